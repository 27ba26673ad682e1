import type { RoutingMode } from '../../../src/cluster/traffic/router.js';
import { TrafficService } from '../../../src/cluster/traffic/service.js';
import type { AttemptOutcome, KeyCandidate, KeyRouter } from '../../../src/gateway/hooks.js';
import { FakeNetwork } from '../state/fake-network.js';

/** What the simulated upstream answers for one attempt. */
export interface SimAnswer {
  status: number;
  failure?: AttemptOutcome['failure'];
  latencyMs: number;
  headers?: Record<string, string>;
}

export type SimUpstream = (key: string, now: number) => SimAnswer;

export interface SimCall {
  at: number;
  key: string;
  node: number;
  status: number;
  failure?: string;
}

/** The static-weight baseline: what the gateway does today (weighted random, no health). */
export class StaticRouter implements KeyRouter {
  constructor(private readonly random: () => number) {}
  choose(_p: string, _m: string, c: readonly KeyCandidate[], avoid: ReadonlySet<string> | undefined): number {
    const idx = c.map((_, i) => i).filter((i) => !avoid?.has(c[i]!.name));
    if (idx.length === 0) return -1;
    let total = 0;
    for (const i of idx) total += c[i]!.weight;
    let r = this.random() * total;
    for (const i of idx) {
      r -= c[i]!.weight;
      if (r < 0) return i;
    }
    return idx[idx.length - 1]!;
  }
  record(): void {}
}

/**
 * N nodes with the real TrafficService (stats, gossip deltas, view,
 * circuits, pacer, router) over the deterministic in-memory gossip network
 * on a simulated clock; clients send open-loop requests round-robin to the
 * nodes; each request runs the gateway's attempt loop (max_retries, a new
 * key on each retry) against a simulated upstream that takes simulated time.
 */
export class TrafficSim {
  readonly net: FakeNetwork;
  readonly services: TrafficService[] = [];
  readonly routers: KeyRouter[] = [];
  readonly calls: SimCall[] = [];
  readonly clients: { at: number; ok: boolean; node: number }[] = [];
  private readonly timers: { at: number; fn: () => void }[] = [];
  private rr = 0;

  constructor(
    mode: RoutingMode | 'static',
    readonly candidates: KeyCandidate[],
    readonly upstream: SimUpstream,
    opts: { nodes?: number; maxRetries?: number; seed?: number } = {},
  ) {
    this.net = new FakeNetwork({ seed: opts.seed ?? 7, latencyMs: [5, 40] });
    this.maxRetries = opts.maxRetries ?? 2;
    const rand = () => this.net.random();
    for (let i = 0; i < (opts.nodes ?? 3); i++) {
      const svc = new TrafficService({
        mode: mode === 'static' ? 'weighted' : mode,
        inFlight: () => 0,
        rps: () => 0,
        now: () => this.net.now,
        random: rand,
      });
      svc.attachCluster(this.net.add(`n${i}`));
      this.services.push(svc);
      this.routers.push(mode === 'static' ? new StaticRouter(rand) : svc.router);
    }
    this.net.now = 1_000_000;
  }

  private readonly maxRetries: number;

  /** Runs `ms` of simulated time with `rps` client requests per second spread over the nodes. */
  run(ms: number, rps: number): void {
    const end = this.net.now + ms;
    let credit = 0;
    while (this.net.now < end) {
      this.net.now += 5;
      credit += (rps * 5) / 1000;
      while (credit >= 1) {
        credit -= 1;
        this.request(this.rr++ % this.services.length);
      }
      this.timers.sort((a, b) => a.at - b.at);
      while (this.timers.length > 0 && this.timers[0]!.at <= this.net.now) this.timers.shift()!.fn();
      this.net.deliver();
      if (this.net.now % 1000 === 0) for (const s of this.services) s.tick();
      if (this.net.now % 2000 === 0) this.net.pushPull();
    }
  }

  private request(node: number): void {
    const at = this.net.now;
    const router = this.routers[node]!;
    const avoid = new Set<string>();
    const attempt = (n: number) => {
      const i = router.choose('p', 'm', this.candidates, avoid);
      if (i < 0) {
        this.clients.push({ at, ok: false, node });
        return;
      }
      const key = this.candidates[i]!.name;
      const a = this.upstream(key, this.net.now);
      this.timers.push({
        at: this.net.now + a.latencyMs,
        fn: () => {
          this.calls.push({ at: this.net.now, key, node, status: a.status, failure: a.failure });
          router.record({
            provider: 'p',
            keyName: key,
            model: 'm',
            status: a.status,
            failure: a.failure,
            latencyMs: a.latencyMs,
            quotaHeaders: a.headers,
          });
          if (!a.failure && a.status >= 200 && a.status < 300) {
            this.clients.push({ at, ok: true, node });
            return;
          }
          avoid.add(key);
          if (n < this.maxRetries) attempt(n + 1);
          else this.clients.push({ at, ok: false, node });
        },
      });
    };
    attempt(0);
  }

  /** Share of upstream calls made to `key` in [from, to) (times relative to the start). */
  share(key: string, from: number, to: number): number {
    const t0 = 1_000_000;
    const inRange = this.calls.filter((c) => c.at >= t0 + from && c.at < t0 + to);
    return inRange.length === 0 ? 0 : inRange.filter((c) => c.key === key).length / inRange.length;
  }

  get start(): number {
    return 1_000_000;
  }
}

/** A fixed-window upstream quota per key (limit per windowMs), answering with OpenAI's x-ratelimit-* headers. */
export function quotaUpstream(limits: Record<string, number>, windowMs: number, latencyMs = 50): SimUpstream {
  const used = new Map<string, { window: number; n: number }>();
  return (key, now) => {
    const w = Math.floor(now / windowMs);
    let u = used.get(key);
    if (!u || u.window !== w) {
      u = { window: w, n: 0 };
      used.set(key, u);
    }
    const limit = limits[key] ?? Infinity;
    const resetS = ((w + 1) * windowMs - now) / 1000;
    const headers = {
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': String(Math.max(0, limit - u.n - 1)),
      'x-ratelimit-reset-requests': `${resetS.toFixed(3)}s`,
    };
    if (u.n >= limit)
      return { status: 429, latencyMs: 5, headers: { ...headers, 'retry-after': String(Math.ceil(resetS)) } };
    u.n++;
    return { status: 200, latencyMs, headers };
  };
}
