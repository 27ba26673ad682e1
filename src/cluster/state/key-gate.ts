import type { Duration } from '../../config/duration.js';
import type { ProviderConfig } from '../../config/schema.js';
import type { ProviderKeyGate } from '../../gateway/hooks.js';
import type { Logger } from '../../observability/logger.js';
import type { DistributedCounters } from './counters.js';
import { CHANNEL_KEY_COOLDOWN, type ClusterLike, type GossipChannel } from './gossip.js';

const MINUTE: Duration = { kind: 'fixed', ms: 60_000 };

interface CoolDown {
  until: number;
  reason: 'rate_limited' | 'auth_failed';
}

type WireCoolDown = [provider: string, key: string, until: number, reason: CoolDown['reason']];

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

  tryAcquire(provider: string, keyName: string): boolean {
    const k = id(provider, keyName);
    const c = this.cool.get(k);
    if (c) {
      if (c.until > this.now()) return false;
      this.cool.delete(k);
    }
    const lim = this.limits.get(k);
    if (!lim) return true;
    if (lim.tpm && !this.counters.check({ key: `pk:${k}:tpm`, limit: lim.tpm, duration: MINUTE }).ok)
      return false;
    if (lim.rpm && !this.counters.acquire({ key: `pk:${k}:rpm`, limit: lim.rpm, duration: MINUTE }).ok)
      return false;
    return true;
  }

  coolDown(provider: string, keyName: string, ms: number, reason: 'rate_limited' | 'auth_failed'): void {
    const until = this.now() + ms;
    const k = id(provider, keyName);
    const cur = this.cool.get(k);
    if (cur && cur.until >= until) return;
    this.cool.set(k, { until, reason });
    this.logger?.info({ provider, key: keyName, ms, reason }, 'provider key cooling down');
    const wire: WireCoolDown[] = [[provider, keyName, until, reason]];
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

  /** When the key's cool-down ends (ms since epoch), if it is cooling down. */
  coolingUntil(provider: string, keyName: string): number | undefined {
    const c = this.cool.get(id(provider, keyName));
    return c && c.until > this.now() ? c.until : undefined;
  }

  private active(): WireCoolDown[] {
    const now = this.now();
    const out: WireCoolDown[] = [];
    for (const [k, c] of this.cool) {
      if (c.until <= now) continue;
      const [p, key] = JSON.parse(k) as [string, string];
      out.push([p, key, c.until, c.reason]);
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
      const k = id(e[0], e[1]);
      const cur = this.cool.get(k);
      if (e[2] > this.now() && (!cur || cur.until < e[2]))
        this.cool.set(k, { until: e[2], reason: e[3] === 'auth_failed' ? 'auth_failed' : 'rate_limited' });
    }
  }
}

function id(provider: string, key: string): string {
  return JSON.stringify([provider, key]);
}
