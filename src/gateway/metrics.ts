import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const MAX_MODELS_PER_PROVIDER = 100;
const MAX_LABEL = 128;
export const OTHER = 'other';

/**
 * Gateway metrics. Label values come only from configuration: a provider
 * label is a configured provider's name, a model label a model known for it
 * (its keys' models, its upstream's list, the mock's), capped in count and
 * length; anything else is "other". A client can never mint a label.
 */
export class GatewayMetrics {
  readonly requests: Counter<'provider' | 'model' | 'status'>;
  readonly latency: Histogram<'provider'>;
  readonly upstreamErrors: Counter<'provider' | 'kind'>;
  readonly retries: Counter<'provider'>;
  readonly fallbacks: Counter<'provider'>;
  readonly streamsOpen: Gauge;
  readonly ttfc: Histogram<'provider'>;
  readonly tokens: Counter<'provider' | 'kind'>;
  private readonly seen = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'deepintshield_gateway_requests_total',
      help: 'Inference requests by provider, model and final status',
      labelNames: ['provider', 'model', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'deepintshield_upstream_latency_seconds',
      help: 'Upstream time to response headers, per attempt',
      labelNames: ['provider'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'deepintshield_upstream_errors_total',
      help: 'Upstream failures by provider and kind',
      labelNames: ['provider', 'kind'],
      registers,
    });
    this.retries = new Counter({
      name: 'deepintshield_upstream_retries_total',
      help: 'Retried upstream attempts',
      labelNames: ['provider'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'deepintshield_fallbacks_total',
      help: 'Requests moved to a fallback provider/model',
      labelNames: ['provider'],
      registers,
    });
    this.streamsOpen = new Gauge({
      name: 'deepintshield_streams_open',
      help: 'Streaming responses in progress',
      registers,
    });
    this.ttfc = new Histogram({
      name: 'deepintshield_stream_time_to_first_chunk_seconds',
      help: 'Time from request start to the first streamed chunk sent to the client',
      labelNames: ['provider'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.tokens = new Counter({
      name: 'deepintshield_tokens_total',
      help: 'Tokens reported by upstreams',
      labelNames: ['provider', 'kind'],
      registers,
    });
  }

  /** Which (provider, model) pairs are known; replaced on every config or model-list change. */
  known: (provider: string, model: string) => boolean = () => false;

  /** The model label value: a known model (bounded count per provider and length), else "other". */
  modelLabel(provider: string, model: string): string {
    if (model.length > MAX_LABEL || !this.known(provider, model)) return OTHER;
    let s = this.seen.get(provider);
    if (!s) {
      s = new Set();
      this.seen.set(provider, s);
    }
    if (s.has(model)) return model;
    if (s.size >= MAX_MODELS_PER_PROVIDER) return OTHER;
    s.add(model);
    return model;
  }
}
