import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { createTracing, type TracingHandle } from '../../src/observability/tracing.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import { record } from './fixtures.js';

const otel = (over: Record<string, unknown> = {}) => ({
  sample_ratio: 1,
  service_name: 'deepintshield',
  ...over,
});

function tracing(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): TracingHandle | undefined {
  return createTracing({
    config: otel(config) as never,
    env,
    logger: silentLogger(),
    serviceVersion: '1.2.3',
    instanceId: 'node-a',
    scheduledDelayMillis: 50,
  });
}

/** What the gateway does for one request: a failed primary attempt, a fallback that answers. */
function fakeGatewayRequest(t: TracingHandle, traceparent?: string): string[] {
  const span = t.tracer.startRequest('/v1/chat/completions', 'chat', traceparent);
  const a1 = span.attempt('openai', 'gpt-4o', 'primary', 0);
  a1.end({ provider: 'openai', keyName: 'primary', model: 'gpt-4o', status: 502, latencyMs: 5 });
  const a2 = span.attempt('mock', 'gpt-4o-mini', 'k1', 1);
  a2.end({ provider: 'mock', keyName: 'k1', model: 'gpt-4o-mini', status: 200, latencyMs: 3, ttftMs: 1 });
  span.end(
    record({
      provider: 'mock',
      model: 'gpt-4o-mini',
      attempts: 2,
      fallbackIndex: 1,
      promptTokens: 11,
      completionTokens: 22,
    }),
  );
  return [a1.traceparent ?? '', a2.traceparent ?? ''];
}

describe('OpenTelemetry tracing', () => {
  let rx: OtlpReceiver;
  beforeAll(async () => {
    rx = await new OtlpReceiver().start();
  });
  afterAll(async () => {
    await rx.close();
  });

  it('is not created at all without an endpoint (no cost when disabled)', () => {
    expect(tracing({}, {})).toBeUndefined();
  });

  it('exports over http/protobuf: request span with GenAI attributes, one child per attempt, client traceparent honoured and sent upstream', async () => {
    const t = tracing({ endpoint: rx.url })!;
    expect(t.protocol).toBe('http/protobuf');
    expect(t.endpoint).toBe(`${rx.url}/v1/traces`);
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const upstream = fakeGatewayRequest(t, `00-${traceId}-${clientSpan}-01`);
    await t.forceFlush();
    const spans = rx.spans.filter((s) => s.traceId === traceId);
    expect(spans.length).toBe(3);
    expect(spans.every((s) => s.encoding === 'protobuf')).toBe(true);
    const req = spans.find((s) => s.kind === 2)!; // SERVER
    expect(req.parentSpanId).toBe(clientSpan);
    expect(req.name).toBe('chat gpt-4o');
    expect(req.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'mock',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 22,
      'deepintshield.attempts': 2,
      'deepintshield.fallback_index': 1,
    });
    expect(req.resource).toMatchObject({
      'service.name': 'deepintshield',
      'service.version': '1.2.3',
      'service.instance.id': 'node-a',
    });
    const attempts = spans.filter((s) => s.kind === 3); // CLIENT
    expect(attempts.map((s) => s.parentSpanId)).toEqual([req.spanId, req.spanId]);
    expect(attempts.map((s) => s.attributes['gen_ai.provider.name'])).toEqual(['openai', 'mock']);
    expect(attempts[0]!.statusCode).toBe(2); // ERROR for the failed attempt
    // What went upstream with each attempt is that attempt's own span, in the client's trace.
    expect(upstream).toEqual(attempts.map((s) => `00-${traceId}-${s.spanId}-01`));
    await t.shutdown();
  });

  it('reads the standard OTEL_EXPORTER_OTLP_* variables: endpoint, http/json protocol and headers', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue,authorization=Bearer%20otel-secret',
    });
    try {
      const t = tracing({}, process.env)!;
      expect(t.protocol).toBe('http/json');
      const before = rx.spans.length;
      fakeGatewayRequest(t);
      await t.forceFlush();
      const fresh = rx.spans.slice(before);
      expect(fresh.length).toBe(3);
      expect(fresh.every((s) => s.encoding === 'json')).toBe(true);
      const last = rx.requests[rx.requests.length - 1]!;
      expect(last.contentType).toContain('application/json');
      expect(last.headers['x-tenant']).toBe('blue');
      expect(last.headers.authorization).toBe('Bearer otel-secret');
      expect(fresh.find((s) => s.kind === 2)!.attributes['gen_ai.usage.output_tokens']).toBe(22);
      await t.shutdown();
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('samples new traces at sample_ratio; a sampled client trace is always kept, an unsampled one never', async () => {
    const t = tracing({ endpoint: rx.url, sample_ratio: 0.25 })!;
    const before = rx.spans.length;
    const N = 400;
    for (let i = 0; i < N; i++) {
      const s = t.tracer.startRequest('/v1/embeddings', 'embeddings', undefined);
      s.end(record());
    }
    const kept = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
    for (const id of kept) {
      const s = t.tracer.startRequest(
        '/v1/embeddings',
        'embeddings',
        `00-${id}-${randomBytes(8).toString('hex')}-01`,
      );
      s.end(record());
    }
    const dropped = randomBytes(16).toString('hex');
    const s = t.tracer.startRequest(
      '/v1/embeddings',
      'embeddings',
      `00-${dropped}-${randomBytes(8).toString('hex')}-00`,
    );
    const a = s.attempt('mock', 'm', 'k', 0);
    // Unsampled traces still carry the trace upstream, flagged not sampled.
    expect(a.traceparent).toMatch(new RegExp(`^00-${dropped}-[0-9a-f]{16}-00$`));
    a.end({ provider: 'mock', keyName: 'k', model: 'm', status: 200, latencyMs: 1 });
    s.end(record());
    await t.forceFlush();
    const fresh = rx.spans.slice(before);
    const roots = fresh.filter((x) => !kept.includes(x.traceId) && x.traceId !== dropped).length;
    // Binomial(400, 0.25): mean 100, sd 8.7; ±4.5 sd.
    expect(roots).toBeGreaterThan(60);
    expect(roots).toBeLessThan(140);
    expect(fresh.filter((x) => kept.includes(x.traceId)).length).toBe(2);
    expect(fresh.some((x) => x.traceId === dropped)).toBe(false);
    await t.shutdown();
  });
});
