import type { KeyEntry } from '../providers/provider.js';
import type { AttemptOutcome, KeyCandidate, KeyRouter, ProviderKeyGate } from './hooks.js';

/**
 * The default KeyRouter: weighted random among the candidates not yet tried.
 * Stateless (adaptive routing and circuit breakers are an injected router's job).
 */
export class WeightedKeyRouter implements KeyRouter {
  constructor(private readonly random: () => number = Math.random) {}

  choose(
    _provider: string,
    _model: string,
    candidates: readonly KeyCandidate[],
    avoid: ReadonlySet<string> | undefined,
  ): number {
    let total = 0;
    for (const c of candidates) if (!avoid?.has(c.name)) total += c.weight;
    if (total <= 0) return -1;
    let r = this.random() * total;
    let last = -1;
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      if (avoid?.has(c.name)) continue;
      last = i;
      r -= c.weight;
      if (r < 0) return i;
    }
    return last;
  }

  record(_outcome: AttemptOutcome): void {}
}

/**
 * The key for one attempt: the router chooses among the keys serving the
 * model, skipping `avoid` (keys already tried in this request); the
 * cluster-wide gate may still refuse it (cooling down as a whole or for this
 * model, over its rpm cap), in which case the next choice is asked for.
 */
export function pickKey(
  provider: string,
  model: string,
  keys: readonly KeyEntry[],
  avoid: ReadonlySet<string> | undefined,
  router: KeyRouter,
  gate: ProviderKeyGate | undefined,
): KeyEntry | undefined {
  if (keys.length === 1) {
    const k = keys[0]!;
    if (avoid?.has(k.name)) return undefined;
    return !gate || gate.tryAcquire(provider, k.name, model) ? k : undefined;
  }
  let skip: Set<string> | undefined;
  for (let tries = 0; tries < keys.length; tries++) {
    const i = router.choose(provider, model, keys, skip ?? avoid);
    if (i < 0 || i >= keys.length) return undefined;
    const k = keys[i]!;
    if (skip?.has(k.name) || avoid?.has(k.name)) return undefined;
    if (!gate || gate.tryAcquire(provider, k.name, model)) return k;
    skip ??= new Set(avoid);
    skip.add(k.name);
  }
  return undefined;
}
