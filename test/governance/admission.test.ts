import { describe, expect, it, vi } from 'vitest';
import { DistributedCounters } from '../../src/cluster/state/counters.js';
import { governanceSchema } from '../../src/config/schema.js';
import { Governance } from '../../src/governance/governance.js';

const KEY = 'vk-team-a-0123456789';

function setup(gov: Record<string, unknown>, opts: { warn?: (o: unknown, m: string) => void } = {}) {
  let now = 1_000 * 60_000 + 1000;
  const counters = new DistributedCounters({ timers: false, now: () => now });
  const logger = { warn: opts.warn ?? (() => undefined), info: () => undefined, debug: () => undefined };
  const g = new Governance({
    counters,
    config: governanceSchema.parse(gov),
    now: () => now,
    logger: logger as never,
  });
  return { g, counters, advance: (ms: number) => (now += ms) };
}

const base = { provider: 'mock', model: 'echo', route: '/v1/chat/completions' };

describe('virtual-key authentication (enforce_virtual_keys)', () => {
  const keys = [{ id: 'a', value: KEY }];

  it('not enforced: an unknown bearer or x-api-key value is no key; an unknown x-deepintshield-vk is 401', () => {
    const { g } = setup({ enforce_virtual_keys: false, virtual_keys: keys });
    expect(
      g.admit({ ...base, virtualKey: 'sk-placeholder', virtualKeySource: 'authorization' }).reject,
    ).toBeUndefined();
    expect(
      g.admit({ ...base, virtualKey: 'sk-placeholder', virtualKeySource: 'x-api-key' }).reject,
    ).toBeUndefined();
    expect(g.admit({ ...base, virtualKey: 'sk-placeholder' }).reject).toBeUndefined();
    expect(
      g.admit({ ...base, virtualKey: 'nope', virtualKeySource: 'x-deepintshield-vk' }).reject?.status,
    ).toBe(401);
    expect(g.admit({ ...base, virtualKey: KEY, virtualKeySource: 'authorization' }).virtualKeyId).toBe('a');
  });

  it('enforced: a missing or unknown key is 401 from any source', () => {
    const { g } = setup({ enforce_virtual_keys: true, virtual_keys: keys });
    expect(g.admit({ ...base, virtualKey: undefined }).reject?.status).toBe(401);
    for (const src of ['authorization', 'x-api-key', 'x-deepintshield-vk'] as const)
      expect(g.admit({ ...base, virtualKey: 'sk-placeholder', virtualKeySource: src }).reject?.status).toBe(
        401,
      );
  });
});

describe('admission: every target, every limit, one call', () => {
  it('a fallback outside allowed_models is refused (403) before any upstream call', () => {
    const { g } = setup({ virtual_keys: [{ id: 'a', value: KEY, allowed_models: ['mock/*'] }] });
    const ok = g.admit({ ...base, virtualKey: KEY, fallbacks: [{ provider: 'mock', model: 'other' }] });
    expect(ok.reject).toBeUndefined();
    const r = g.admit({ ...base, virtualKey: KEY, fallbacks: [{ provider: 'openai', model: 'gpt-4o' }] });
    expect(r.reject?.status).toBe(403);
    expect(r.reject?.message).toContain('fallbacks[0]');
  });

  it('requests, tokens and budget are checked in one limiter call; a refusal charges nothing', () => {
    const { g, counters } = setup({
      virtual_keys: [
        {
          id: 'a',
          value: KEY,
          rate_limit: {
            request_max_limit: 10,
            request_reset_duration: '1m',
            token_max_limit: 100,
            token_reset_duration: '1m',
          },
          budget: { max_limit: 1, reset_duration: '1d' },
        },
      ],
    });
    const spy = vi.spyOn(counters, 'admit');
    const a = g.admit({ ...base, virtualKey: KEY, estimatedTokens: 60 });
    expect(a.reject).toBeUndefined();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]![0]).toHaveLength(3);
    // 60 reserved: a second 60-token request cannot fit while the first is in flight.
    const b = g.admit({ ...base, virtualKey: KEY, estimatedTokens: 60 });
    expect(b.reject?.status).toBe(429);
    expect(b.reject?.headers['x-ratelimit-remaining-tokens']).toBe('0');
    // The refusal consumed no request slot.
    expect(a.headers?.['x-ratelimit-remaining-requests']).toBe('9');
    a.settle({ provider: 'mock', model: 'echo', promptTokens: 5, completionTokens: 5 });
    const c = g.admit({ ...base, virtualKey: KEY, estimatedTokens: 60 });
    expect(c.reject).toBeUndefined();
    expect(c.headers?.['x-ratelimit-remaining-requests']).toBe('8');
    c.settle(null); // failed before any usage: the reservation is freed, nothing charged
    expect(g.usage('a')?.tokens?.used).toBe(10);
  });

  it('concurrent requests cannot overshoot a token limit; what was streamed before an abort is charged', () => {
    const { g } = setup({
      virtual_keys: [
        { id: 'a', value: KEY, rate_limit: { token_max_limit: 1000, token_reset_duration: '1m' } },
      ],
    });
    const inFlight = [];
    for (let i = 0; i < 50; i++) {
      const r = g.admit({ ...base, virtualKey: KEY, estimatedTokens: 100 });
      if (!r.reject) inFlight.push(r);
    }
    expect(inFlight).toHaveLength(10);
    for (const r of inFlight)
      r.settle({ provider: 'mock', model: 'echo', promptTokens: 20, completionTokens: 60, partial: true });
    expect(g.usage('a')?.tokens?.used).toBe(800);
  });

  it('without an estimate the key’s running average is reserved (at most what is left)', () => {
    const { g } = setup({
      virtual_keys: [
        { id: 'a', value: KEY, rate_limit: { token_max_limit: 1000, token_reset_duration: '1m' } },
      ],
    });
    const first = g.admit({ ...base, virtualKey: KEY });
    first.settle({ provider: 'mock', model: 'echo', promptTokens: 100, completionTokens: 100 });
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (!g.admit({ ...base, virtualKey: KEY }).reject) admitted++;
    expect(admitted).toBe(4); // 800 left, 200 held by each request in flight
  });

  it('a 429 reports 0 remaining and retry-after: 1 s while the cluster has room, else the window reset', () => {
    const { g, advance } = setup({
      virtual_keys: [
        { id: 'a', value: KEY, rate_limit: { request_max_limit: 2, request_reset_duration: '1m' } },
      ],
    });
    g.admit({ ...base, virtualKey: KEY });
    g.admit({ ...base, virtualKey: KEY });
    const r = g.admit({ ...base, virtualKey: KEY });
    expect(r.reject?.status).toBe(429);
    expect(r.reject?.headers['x-ratelimit-remaining-requests']).toBe('0');
    expect(Number(r.reject?.headers['retry-after'])).toBe(59);
    advance(59_000);
    expect(g.admit({ ...base, virtualKey: KEY }).reject).toBeUndefined();
  });
});

describe('models without a price', () => {
  const budgeted = {
    id: 'b',
    value: KEY,
    allowed_models: ['openai/brand-new-model'],
    budget: { max_limit: 0.001, reset_duration: '1d' },
  };

  it('warned at start and on first use; costs $0 by default', () => {
    const warn = vi.fn();
    const { g } = setup({ virtual_keys: [budgeted] }, { warn });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![1])).toContain('no price');
    const r = g.admit({
      provider: 'openai',
      model: 'brand-new-model',
      route: '/v1/chat/completions',
      virtualKey: KEY,
    });
    expect(r.reject).toBeUndefined();
    expect(g.cost('openai', 'brand-new-model', 1000, 1000)).toBe(0);
  });

  it('governance.default_price makes the budget apply', () => {
    const { g } = setup({
      virtual_keys: [budgeted],
      default_price: { input_per_million: 1000, output_per_million: 1000 },
    });
    const r = g.admit({
      provider: 'openai',
      model: 'brand-new-model',
      route: '/v1/chat/completions',
      virtualKey: KEY,
    });
    r.settle({ provider: 'openai', model: 'brand-new-model', promptTokens: 1, completionTokens: 1 });
    const r2 = g.admit({
      provider: 'openai',
      model: 'brand-new-model',
      route: '/v1/chat/completions',
      virtualKey: KEY,
    });
    expect(r2.reject?.status).toBe(402);
  });

  it('unpriced_models: "refuse" answers 403 for a budgeted key', () => {
    const { g } = setup({ virtual_keys: [budgeted], unpriced_models: 'refuse' });
    const r = g.admit({
      provider: 'openai',
      model: 'brand-new-model',
      route: '/v1/chat/completions',
      virtualKey: KEY,
    });
    expect(r.reject?.status).toBe(403);
    expect(r.reject?.code).toBe('model_not_priced');
  });
});

describe('a refusal while this node confirms a borrowed claim', () => {
  it('carries wait; once it resolves, asked again with again: true, the request is admitted', async () => {
    const { g, counters } = setup({
      virtual_keys: [
        { id: 'a', value: KEY, rate_limit: { request_max_limit: 5, request_reset_duration: '1m' } },
      ],
    });
    const real = counters.admit.bind(counters);
    const asked: boolean[] = [];
    let settled = false;
    counters.admit = (claims, opts = {}) => {
      asked.push(opts.again === true);
      const r = real(claims, opts);
      if (opts.again) return r;
      // The first asking finds the room borrowed and unconfirmed.
      return {
        ...r,
        ok: false,
        refused: 0,
        decisions: r.decisions.map((d) => ({ ...d, ok: false, pending: true })),
      };
    };
    counters.claimsSettled = () =>
      new Promise<void>((resolve) => {
        settled = true;
        resolve();
      });
    const first = g.admit({ ...base, virtualKey: KEY });
    expect(first.reject?.status).toBe(429);
    expect(first.wait).toBeDefined();
    await first.wait;
    expect(settled).toBe(true);
    const again = g.admit({ ...base, virtualKey: KEY, again: true });
    expect(again.reject).toBeUndefined();
    expect(again.wait).toBeUndefined();
    expect(asked).toEqual([false, true]);
  });
});
