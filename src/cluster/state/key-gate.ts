import type { Duration } from '../../config/duration.js';
import type { ProviderConfig } from '../../config/schema.js';
import type { ProviderKeyGate } from '../../gateway/hooks.js';
import type { Logger } from '../../observability/logger.js';
import type { CounterClaim, DistributedCounters } from './counters.js';
import { CHANNEL_KEY_COOLDOWN, type ClusterLike, type GossipChannel } from './gossip.js';

const MINUTE: Duration = { kind: 'fixed', ms: 60_000 };

interface CoolDown {
  until: number;
  reason: 'rate_limited' | 'auth_failed';
}

/** `model` set: a model-scoped cool-down (the key still serves other models). */
type WireCoolDown = [
  provider: string,
  key: string,
  until: number,
  reason: CoolDown['reason'],
  model?: string,
];

const MAX_COOLDOWNS = 10_000;

/**
 * Provider keys, cluster-wide: rpm/tpm caps through the shared counters
 * (channel 2) and cool-downs after a provider's 429 or 401/403, announced to
 * every node over channel 3 (merge: the later end wins).
 */
export class ClusterKeyGate implements ProviderKeyGate {
  private readonly cool = new Map<string, CoolDown>();
  private limits = new Map<string, { rpm?: number; tpm?: number }>();
  private channel: GossipChannel | undefined;
  private readonly now: () => number;

  constructor(
    private readonly counters: DistributedCounters,
    opts: { now?: () => number; logger?: Logger } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
  }

  private readonly logger: Logger | undefined;

  setProviders(providers: Record<string, ProviderConfig>): void {
    const m = new Map<string, { rpm?: number; tpm?: number }>();
    for (const [name, p] of Object.entries(providers)) {
      p.keys.forEach((k, i) => {
        if (k.rpm_limit || k.tpm_limit)
          m.set(id(name, k.name ?? String(i)), { rpm: k.rpm_limit, tpm: k.tpm_limit });
      });
    }
    this.limits = m;
  }

  attachCluster(cluster: ClusterLike): void {
    this.channel = cluster.channel(CHANNEL_KEY_COOLDOWN);
    this.channel.onMessage((payload) => this.merge(payload));
    this.channel.onRemoteState((buf) => this.merge(buf));
    this.channel.setLocalState(() => Buffer.from(JSON.stringify(this.active())));
  }

  /** Not cooling down (whole key, or for `model`) and under its rpm and tpm: both caps in one limiter call. */
  tryAcquire(provider: string, keyName: string, model?: string): boolean {
    const k = id(provider, keyName);
    if (this.cooling(k) || (model !== undefined && this.cooling(id(provider, keyName, model)))) return false;
    const lim = this.limits.get(k);
    if (!lim) return true;
    const claims: CounterClaim[] = [];
    if (lim.rpm)
      claims.push({
        spec: { key: `pk:${k}:rpm`, limit: lim.rpm, duration: MINUTE, integer: true },
        amount: 1,
        consume: true,
      });
    // tpm: admitted while the key's share is not used up; tokens are charged by recordTokens.
    if (lim.tpm) claims.push({ spec: { key: `pk:${k}:tpm`, limit: lim.tpm, duration: MINUTE }, amount: 0 });
    return this.counters.admit(claims).ok;
  }

  private cooling(k: string): boolean {
    const c = this.cool.get(k);
    if (!c) return false;
    if (c.until > this.now()) return true;
    this.cool.delete(k);
    return false;
  }

  coolDown(
    provider: string,
    keyName: string,
    ms: number,
    reason: 'rate_limited' | 'auth_failed',
    model?: string,
  ): void {
    const until = this.now() + ms;
    const k = id(provider, keyName, model);
    const cur = this.cool.get(k);
    if (cur && cur.until >= until) return;
    if (!cur && this.cool.size >= MAX_COOLDOWNS) this.collect();
    this.cool.set(k, { until, reason });
    this.logger?.info({ provider, key: keyName, model, ms, reason }, 'provider key cooling down');
    const entry: WireCoolDown = [provider, keyName, until, reason];
    if (model !== undefined) entry.push(model);
    const wire: WireCoolDown[] = [entry];
    try {
      this.channel?.broadcast(Buffer.from(JSON.stringify(wire)), `cool:${k}`);
    } catch {
      /* cluster not started: local only */
    }
  }

  recordTokens(provider: string, keyName: string, tokens: number): void {
    const k = id(provider, keyName);
    const lim = this.limits.get(k);
    if (lim?.tpm && tokens > 0)
      this.counters.add({ key: `pk:${k}:tpm`, limit: lim.tpm, duration: MINUTE }, tokens);
  }

  /** When the key's cool-down ends (ms since epoch), if it is cooling down (for `model`: that scope only). */
  coolingUntil(provider: string, keyName: string, model?: string): number | undefined {
    const c = this.cool.get(id(provider, keyName, model));
    return c && c.until > this.now() ? c.until : undefined;
  }

  private collect(): void {
    const now = this.now();
    for (const [k, c] of this.cool) if (c.until <= now) this.cool.delete(k);
  }

  private active(): WireCoolDown[] {
    const now = this.now();
    const out: WireCoolDown[] = [];
    for (const [k, c] of this.cool) {
      if (c.until <= now) continue;
      const [p, key, model] = JSON.parse(k) as [string, string, string?];
      const e: WireCoolDown = [p, key, c.until, c.reason];
      if (model !== undefined) e.push(model);
      out.push(e);
    }
    return out;
  }

  private merge(payload: Buffer): void {
    let list: unknown;
    try {
      list = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (!Array.isArray(list)) return;
    for (const e of list) {
      if (
        !Array.isArray(e) ||
        typeof e[0] !== 'string' ||
        typeof e[1] !== 'string' ||
        typeof e[2] !== 'number'
      )
        continue;
      const model = typeof e[4] === 'string' ? e[4] : undefined;
      const k = id(e[0], e[1], model);
      const cur = this.cool.get(k);
      if (!cur && this.cool.size >= MAX_COOLDOWNS) this.collect();
      if (!cur && this.cool.size >= MAX_COOLDOWNS) continue;
      if (e[2] > this.now() && e[2] <= this.now() + 3_600_000 && (!cur || cur.until < e[2]))
        this.cool.set(k, { until: e[2], reason: e[3] === 'auth_failed' ? 'auth_failed' : 'rate_limited' });
    }
  }
}

function id(provider: string, key: string, model?: string): string {
  return JSON.stringify(model === undefined ? [provider, key] : [provider, key, model]);
}
