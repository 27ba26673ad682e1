import type { RequestLogEntry } from '../../src/store/request-log.js';

const TARGETS = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-haiku'],
  ['mock', 'mock-model'],
] as const;
const KEYS = ['team-a', 'team-b', null] as const;

/**
 * Request-log entries in the contract's shape (../../../shared/spec/interface.md
 * § Request log), paged like GET /api/logs: newest first, filters, cursor.
 */
export function fakeLogs(count: number) {
  const all: RequestLogEntry[] = [];
  let seq = 0;
  const make = (ageMs: number): RequestLogEntry => {
    const i = seq++;
    const [provider, model] = TARGETS[i % TARGETS.length]!;
    const status = i % 11 === 5 ? 429 : i % 13 === 7 ? 502 : 200;
    return {
      id: `log-${String(i).padStart(5, '0')}`,
      time: new Date(Date.now() - ageMs).toISOString(),
      node: `ui-${(i % 3) + 1}`,
      request_id: `req-${i}-${(i * 2654435761) % 100000}`,
      route: i % 4 === 0 ? '/anthropic/v1/messages' : '/v1/chat/completions',
      virtual_key: KEYS[i % KEYS.length]!,
      provider,
      model,
      status,
      latency_ms: 40 + ((i * 37) % 400),
      ttft_ms: i % 2 ? 15 + (i % 30) : null,
      tokens: { prompt: 100 + (i % 50), completion: status === 200 ? 20 + (i % 80) : 0 },
      cost: status === 200 ? 0.0004 * (1 + (i % 5)) : 0,
      attempts: status === 502 ? 3 : 1,
      stream: i % 3 === 1,
      fallback_index: status === 502 ? 1 : null,
      error:
        status === 429
          ? 'rate limit: 600 requests per 1m'
          : status === 502
            ? 'upstream error: 503 from openai'
            : null,
    };
  };
  // spread over the last 50 minutes, newest first
  for (let i = 0; i < count; i++) all.unshift(make((count - i) * ((50 * 60_000) / count)));
  return {
    all,
    add(n: number) {
      for (let i = 0; i < n; i++) all.unshift(make(0));
    },
    page(q: URLSearchParams) {
      const limit = Math.min(Number(q.get('limit') ?? 100), 500);
      const start = Number(q.get('cursor') ?? 0);
      const since = q.get('since') ? Date.parse(q.get('since')!) : -Infinity;
      const match = all.filter(
        (e) =>
          (!q.get('provider') || e.provider === q.get('provider')) &&
          (!q.get('model') || e.model === q.get('model')) &&
          (!q.get('status') || String(e.status) === q.get('status')) &&
          (!q.get('virtual_key') || e.virtual_key === q.get('virtual_key')) &&
          Date.parse(e.time) >= since,
      );
      const logs = match.slice(start, start + limit);
      return { logs, next_cursor: start + limit < match.length ? String(start + limit) : null };
    },
  };
}
