import { Gauge, type Registry } from 'prom-client';
import type { CircuitBreakers } from './circuits.js';
import type { ClusterTrafficView } from './view.js';

/** Series caps: labels come from config (providers, keys, models) and peers, so bound them anyway. */
const MAX_KEY_SERIES = 256;
const MAX_NODE_SERIES = 64;

/** Prometheus view of the cluster-wide traffic picture, computed at scrape time. */
export function registerTrafficMetrics(
  registry: Registry,
  view: ClusterTrafficView,
  circuits: CircuitBreakers,
): void {
  const keyLabels = ['provider', 'key', 'model'] as const;
  new Gauge({
    name: 'deepintshield_traffic_requests_window',
    help: 'Upstream attempts per provider/key/model over the last 10 s, cluster-wide',
    labelNames: [...keyLabels, 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of view.allStats().slice(0, MAX_KEY_SERIES)) {
        const l = { provider: s.provider, key: s.key, model: s.model };
        this.set({ ...l, outcome: 'ok' }, s.ok);
        this.set({ ...l, outcome: 'rate_limited' }, s.rateLimited);
        this.set({ ...l, outcome: 'server_error' }, s.serverErrors);
        this.set({ ...l, outcome: 'timeout' }, s.timeouts);
        this.set({ ...l, outcome: 'connect' }, s.connectErrors);
        this.set({ ...l, outcome: 'other' }, s.otherErrors);
      }
    },
  });
  new Gauge({
    name: 'deepintshield_traffic_latency_ms',
    help: 'Upstream latency per provider/key/model, cluster-wide (ewma, p50, p99, ttft, ttft_p99)',
    labelNames: [...keyLabels, 'stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of view.allStats().slice(0, MAX_KEY_SERIES)) {
        if (s.ok === 0) continue;
        const l = { provider: s.provider, key: s.key, model: s.model };
        this.set({ ...l, stat: 'ewma' }, s.latencyMs);
        this.set({ ...l, stat: 'p50' }, s.p50Ms);
        this.set({ ...l, stat: 'p99' }, s.p99Ms);
        if (s.ttftMs > 0) {
          this.set({ ...l, stat: 'ttft' }, s.ttftMs);
          this.set({ ...l, stat: 'ttft_p99' }, s.ttftP99Ms);
        }
      }
    },
  });
  new Gauge({
    name: 'deepintshield_circuit_open',
    help: 'Circuit breaker per provider/key/model (model "" = whole key): 0 closed, 1 open, 0.5 half-open',
    labelNames: keyLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const c of circuits.all().slice(0, MAX_KEY_SERIES))
        this.set(
          { provider: c.provider, key: c.key, model: c.model },
          c.effective === 'open' ? 1 : c.effective === 'half_open' ? 0.5 : 0,
        );
    },
  });
  new Gauge({
    name: 'deepintshield_node_health',
    help: 'Health each node reports over gossip (cpu cores, rss_mb, loop_lag_ms, in_flight, rps)',
    labelNames: ['node', 'stat'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { node, health: h } of view.health().slice(0, MAX_NODE_SERIES)) {
        this.set({ node, stat: 'cpu' }, h.cpu);
        this.set({ node, stat: 'rss_mb' }, h.rssMb);
        this.set({ node, stat: 'loop_lag_ms' }, h.loopLagMs);
        this.set({ node, stat: 'in_flight' }, h.inFlight);
        this.set({ node, stat: 'rps' }, h.rps);
      }
    },
  });
  new Gauge({
    name: 'deepintshield_provider_quota_remaining',
    help: 'Requests the provider last reported left for a key (x-ratelimit-remaining-requests and kin)',
    labelNames: ['provider', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const q of view.allQuotas().slice(0, MAX_KEY_SERIES))
        if (q.requests) this.set({ provider: q.provider, key: q.key }, q.requests.remaining);
    },
  });
}
