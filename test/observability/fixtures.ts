import type { RequestRecord } from '../../src/gateway/hooks.js';
import type { RequestLogEntry } from '../../src/store/request-log.js';

let seq = 0;

/** A finished request as the gateway reports it. */
export function record(over: Partial<RequestRecord> = {}): RequestRecord {
  seq++;
  return {
    requestId: `req-${seq}`,
    startedAt: Date.now(),
    route: '/v1/chat/completions',
    virtualKeyId: 'team-a',
    provider: 'mock',
    model: 'gpt-4o-mini',
    status: 200,
    latencyMs: 12.34,
    promptTokens: 10,
    completionTokens: 20,
    cost: 0.0001,
    attempts: 1,
    fallbackIndex: 0,
    stream: false,
    ...over,
  };
}

/** A stored entry with the contract's fields. */
export function entry(i: number, over: Partial<RequestLogEntry> = {}): RequestLogEntry {
  const t = Date.UTC(2026, 11, 1, 12, 0, 0) + i * 1000;
  return {
    id: `${t.toString(36).padStart(9, '0')}${String(i).padStart(12, '0')}`,
    time: new Date(t).toISOString(),
    node: 'n1',
    request_id: `req-${i}`,
    route: '/v1/chat/completions',
    virtual_key: i % 2 === 0 ? 'team-a' : null,
    provider: i % 3 === 0 ? 'openai' : 'mock',
    model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
    status: i % 5 === 0 ? 502 : 200,
    latency_ms: 10 + i,
    ttft_ms: i % 4 === 0 ? 3.5 : null,
    tokens: { prompt: i, completion: 2 * i },
    cost: i / 1000,
    attempts: 1 + (i % 2),
    fallback_index: i % 5 === 0 ? null : 0,
    error: i % 5 === 0 ? 'upstream 502' : null,
    stream: i % 4 === 0,
    ...over,
  };
}
