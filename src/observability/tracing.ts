import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { ObservabilityConfig } from '../config/schema.js';
import type {
  AttemptOutcome,
  AttemptSpan,
  RequestRecord,
  RequestSpan,
  RequestTracer,
} from '../gateway/hooks.js';
import type { Logger } from './logger.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingOptions {
  config: ObservabilityConfig['otel'];
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  serviceVersion: string;
  /** Node name, as `service.instance.id`. */
  instanceId: string;
  /** Export batching (tests shorten it). */
  scheduledDelayMillis?: number;
}

export interface TracingHandle {
  tracer: RequestTracer;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
  readonly endpoint: string;
  readonly protocol: OtlpProtocol;
}

const propagator = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<Record<string, string>> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k],
};

/** Where traces go, from the config, else the standard OTEL_EXPORTER_OTLP_* variables; undefined = tracing off. */
export function resolveOtlpTarget(
  cfg: ObservabilityConfig['otel'],
  env: NodeJS.ProcessEnv,
): { url: string | undefined; protocol: OtlpProtocol; fromEnv: boolean } | undefined {
  const protocolRaw =
    cfg.protocol ?? env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  const protocol: OtlpProtocol = protocolRaw === 'http/json' ? 'http/json' : 'http/protobuf';
  if (cfg.endpoint) return { url: tracesUrl(cfg.endpoint), protocol, fromEnv: false };
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT)
    return { url: undefined, protocol, fromEnv: true };
  return undefined;
}

/** A bare origin gets the OTLP traces path, as OTEL_EXPORTER_OTLP_ENDPOINT does. */
function tracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.toString();
}

/**
 * The request tracer, or undefined when no OTLP endpoint is configured: then
 * no provider, exporter or tracer object exists and the gateway skips every
 * tracing call (no cost when disabled).
 */
export function createTracing(o: TracingOptions): TracingHandle | undefined {
  const env = o.env ?? process.env;
  const target = resolveOtlpTarget(o.config, env);
  if (!target) return undefined;
  const protocolRaw =
    o.config.protocol ?? env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocolRaw && protocolRaw !== target.protocol)
    o.logger.warn({ protocol: protocolRaw }, 'OTLP protocol not supported, using http/protobuf');
  // With no url the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and _HEADERS itself.
  const exporterConfig = target.url ? { url: target.url } : {};
  const exporter: SpanExporter =
    target.protocol === 'http/json'
      ? new OtlpJsonExporter(exporterConfig)
      : new OtlpProtoExporter(exporterConfig);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': o.config.service_name,
      'service.version': o.serviceVersion,
      'service.instance.id': o.instanceId,
    }),
    // The client's sampled flag wins; new traces are sampled at the configured ratio.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(o.config.sample_ratio) }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMillis: o.scheduledDelayMillis ?? 2000,
      }),
    ],
  });
  const tracer = provider.getTracer('deepintshield', o.serviceVersion);
  const endpoint =
    target.url ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces`;
  o.logger.info(
    { endpoint, protocol: target.protocol, sample_ratio: o.config.sample_ratio },
    'tracing enabled',
  );
  return {
    tracer: new OtelRequestTracer(tracer),
    shutdown: () => provider.shutdown(),
    forceFlush: () => provider.forceFlush(),
    endpoint,
    protocol: target.protocol,
  };
}

/** Maps the gateway's request/attempt seam onto OpenTelemetry spans with the GenAI semantic conventions. */
export class OtelRequestTracer implements RequestTracer {
  constructor(private readonly tracer: Tracer) {}

  startRequest(route: string, operation: string, traceparent: string | undefined): RequestSpan {
    const parent =
      traceparent !== undefined
        ? propagator.extract(ROOT_CONTEXT, { traceparent }, headerGetter)
        : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      operation,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'gen_ai.operation.name': operation,
          'http.route': route,
          'http.request.method': 'POST',
        },
      },
      parent,
    );
    return new OtelRequestSpan(this.tracer, span, trace.setSpan(parent, span), operation);
  }
}

class OtelRequestSpan implements RequestSpan {
  private requestModel: string | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
    private readonly ctx: Context,
    private readonly operation: string,
  ) {}

  attempt(provider: string, model: string, keyName: string, attemptIndex: number): AttemptSpan {
    if (this.requestModel === undefined) {
      this.requestModel = model;
      this.span.setAttribute('gen_ai.request.model', model);
      this.span.updateName(`${this.operation} ${model}`);
    }
    const span = this.tracer.startSpan(
      `${this.operation} ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'gen_ai.operation.name': this.operation,
          'gen_ai.provider.name': provider,
          'gen_ai.request.model': model,
          'deepintshield.provider_key': keyName,
          'deepintshield.attempt': attemptIndex,
        },
      },
      this.ctx,
    );
    const carrier: Record<string, string> = {};
    const sc = span.spanContext();
    if (trace.isSpanContextValid(sc))
      propagator.inject(trace.setSpan(this.ctx, span), carrier, defaultSetter);
    return new OtelAttemptSpan(span, carrier.traceparent);
  }

  end(rec: RequestRecord): void {
    const s = this.span;
    if (this.requestModel === undefined) s.setAttribute('gen_ai.request.model', rec.model);
    s.setAttributes({
      'gen_ai.provider.name': rec.provider,
      'gen_ai.response.model': rec.model,
      'gen_ai.usage.input_tokens': rec.promptTokens,
      'gen_ai.usage.output_tokens': rec.completionTokens,
      'http.response.status_code': rec.status,
      'deepintshield.request_id': rec.requestId,
      'deepintshield.attempts': rec.attempts,
      'deepintshield.cost_usd': rec.cost,
      'deepintshield.stream': rec.stream,
    });
    if (rec.virtualKeyId !== undefined) s.setAttribute('deepintshield.virtual_key', rec.virtualKeyId);
    if (rec.fallbackIndex !== null) s.setAttribute('deepintshield.fallback_index', rec.fallbackIndex);
    if (rec.ttftMs !== undefined) s.setAttribute('deepintshield.ttft_ms', rec.ttftMs);
    if (rec.status >= 500 || rec.error) {
      s.setAttribute('error.type', rec.error ?? String(rec.status));
      if (rec.status >= 500) s.setStatus({ code: SpanStatusCode.ERROR, message: rec.error });
    }
    s.end();
  }
}

const defaultSetter = {
  set: (c: Record<string, string>, k: string, v: string) => {
    c[k] = v;
  },
};

class OtelAttemptSpan implements AttemptSpan {
  constructor(
    private readonly span: Span,
    readonly traceparent: string | undefined,
  ) {}

  end(outcome: AttemptOutcome): void {
    const s = this.span;
    s.setAttribute('http.response.status_code', outcome.status);
    if (outcome.ttftMs !== undefined) s.setAttribute('deepintshield.ttft_ms', outcome.ttftMs);
    if (outcome.failure || outcome.status >= 400) {
      s.setAttribute('error.type', outcome.failure ?? String(outcome.status));
      s.setStatus({ code: SpanStatusCode.ERROR });
    }
    s.end();
  }
}
