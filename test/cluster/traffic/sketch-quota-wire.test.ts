import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuotaHeaders, resetDelayMs } from '../../../src/cluster/traffic/quota.js';
import { LatencySketch } from '../../../src/cluster/traffic/sketch.js';
import { emptyStats } from '../../../src/cluster/traffic/types.js';
import { decodeTraffic, encodeTraffic, MAX_CHUNK_BYTES } from '../../../src/cluster/traffic/wire.js';

describe('LatencySketch', () => {
  it('answers quantiles within its relative accuracy', () => {
    const s = new LatencySketch(0.02);
    const values = Array.from({ length: 10_000 }, (_, i) => 1 + i / 10);
    for (const v of values) s.add(v);
    for (const q of [0.5, 0.9, 0.99]) {
      const truth = values[Math.floor(q * (values.length - 1))]!;
      expect(Math.abs(s.quantile(q) - truth) / truth).toBeLessThanOrEqual(0.021);
    }
  });

  it('stays bounded and keeps the tail exact-ish when the range is huge', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 500 }),
        (xs) => {
          const s = new LatencySketch(0.02, 64);
          for (const x of xs) s.add(x);
          const sorted = [...xs].sort((a, b) => a - b);
          const max = sorted[sorted.length - 1]!;
          const p100 = s.quantile(1);
          if (max >= 0.01) expect(Math.abs(p100 - max) / max).toBeLessThanOrEqual(0.021);
          expect(s.count).toBe(xs.length);
        },
      ),
      { verbose: 1 },
    );
  });

  it('merges like adding', () => {
    const a = new LatencySketch();
    const b = new LatencySketch();
    const c = new LatencySketch();
    for (let i = 1; i < 500; i++) {
      (i % 2 ? a : b).add(i);
      c.add(i);
    }
    a.merge(b);
    expect(a.quantile(0.99)).toBe(c.quantile(0.99));
    expect(a.count).toBe(c.count);
  });
});

describe('provider rate-limit headers', () => {
  const now = Date.parse('2026-12-01T20:00:00Z');

  it('reads OpenAI x-ratelimit-* with Go durations', () => {
    const q = parseQuotaHeaders(
      {
        'x-ratelimit-limit-requests': '100',
        'x-ratelimit-remaining-requests': '42',
        'x-ratelimit-reset-requests': '6m0s',
        'x-ratelimit-limit-tokens': '40000',
        'x-ratelimit-remaining-tokens': '39000',
        'x-ratelimit-reset-tokens': '120ms',
      },
      now,
    );
    expect(q?.requests).toEqual({ limit: 100, remaining: 42, resetAt: now + 360_000 });
    expect(q?.tokens).toEqual({ limit: 40000, remaining: 39000, resetAt: now + 120 });
  });

  it('reads Anthropic anthropic-ratelimit-* with RFC 3339 resets, and retry-after', () => {
    const q = parseQuotaHeaders(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2026-12-01T20:00:30Z',
        'retry-after': '7',
      },
      now,
    );
    expect(q?.requests).toEqual({ limit: 50, remaining: 0, resetAt: now + 30_000 });
    expect(q?.retryUntil).toBe(now + 7000);
  });

  it('retry-after as an HTTP date, retry-after-ms first', () => {
    expect(parseQuotaHeaders({ 'retry-after': 'Tue, 01 Dec 2026 20:00:05 GMT' }, now)?.retryUntil).toBe(
      now + 5000,
    );
    expect(parseQuotaHeaders({ 'retry-after-ms': '250', 'retry-after': '9' }, now)?.retryUntil).toBe(
      now + 250,
    );
  });

  it('never throws and never yields a non-finite or negative window on hostile values', () => {
    const hdr = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom('1e309', '-5', 'NaN', '1h2m3.5s', '0', ''),
    );
    fc.assert(
      fc.property(
        fc.record({
          'x-ratelimit-limit-requests': hdr,
          'x-ratelimit-remaining-requests': hdr,
          'x-ratelimit-reset-requests': hdr,
          'retry-after': hdr,
        }),
        (h) => {
          const q = parseQuotaHeaders(h, now);
          if (q?.requests) {
            expect(Number.isFinite(q.requests.limit) && q.requests.limit > 0).toBe(true);
            expect(q.requests.remaining).toBeGreaterThanOrEqual(0);
            expect(q.requests.remaining).toBeLessThanOrEqual(q.requests.limit);
            expect(q.requests.resetAt).toBeGreaterThanOrEqual(now);
          }
          if (q?.retryUntil !== undefined) expect(q.retryUntil - now).toBeLessThanOrEqual(24 * 3600_000);
        },
      ),
      { verbose: 1 },
    );
    expect(resetDelayMs('1h30m', now)).toBe(5_400_000);
    expect(resetDelayMs('garbage', now)).toBeUndefined();
  });
});

describe('traffic wire format', () => {
  const arbStats = fc.record({
    provider: fc.string({ minLength: 1, maxLength: 20 }),
    key: fc.string({ minLength: 1, maxLength: 20 }),
    model: fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }),
    requests: fc.nat(1e6),
    ok: fc.nat(1e6),
    latencyMs: fc.double({ min: 0, max: 1e5, noNaN: true }),
  });

  it('round-trips, and every chunk fits one gossip packet', () => {
    fc.assert(
      fc.property(fc.array(arbStats, { maxLength: 120 }), (list) => {
        const stats = list.map((l) => ({ ...emptyStats(l.provider, l.key, l.model), ...l }));
        const chunks = encodeTraffic({
          health: { cpu: 0.5, rssMb: 80, loopLagMs: 1.2, inFlight: 3, rps: 10 },
          stats,
          quotas: [
            {
              provider: 'p',
              key: 'k',
              at: Date.now(),
              requests: { limit: 10, remaining: 3, resetAt: Date.now() + 5000 },
              retryUntil: Date.now() + 1000,
            },
          ],
        });
        const back = chunks.map((c) => {
          expect(c.length).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
          return decodeTraffic(c)!;
        });
        expect(back.flatMap((m) => m.stats)).toEqual(stats);
        expect(back[0]!.health?.inFlight).toBe(3);
        expect(back.flatMap((m) => m.quotas)).toHaveLength(1);
      }),
      { verbose: 1 },
    );
  });

  it('rejects anything off-schema without throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
          fc.json().map((j) => Buffer.from(j)),
        ),
        (buf) => {
          const m = decodeTraffic(buf);
          if (m) for (const s of m.stats) expect(Number.isFinite(s.requests)).toBe(true);
        },
      ),
      { verbose: 1 },
    );
    expect(
      decodeTraffic(Buffer.from('{"v":1,"s":[["a","b","c",-1,0,0,0,0,0,0,0,0,0,0,0]]}')),
    ).toBeUndefined();
    expect(decodeTraffic(Buffer.from('{"v":2}'))).toBeUndefined();
  });
});
