import { describe, expect, it } from 'vitest';
import { type AttemptEnv, type AttemptFailure, POLICY, runAttempts } from '../../src/gateway/attempts.js';
import type { ProviderEntry } from '../../src/gateway/provider-table.js';
import type { Target } from '../../src/gateway/targets.js';
import { classifyByStatus } from '../../src/providers/http/errors.js';
import type { KeyEntry, UpstreamResponse } from '../../src/providers/provider.js';
import { Cancel, UpstreamError } from '../../src/providers/types.js';
import { HttpError } from '../../src/server/errors.js';

const key = (name: string): KeyEntry => ({
  name,
  value: `v-${name}`,
  models: new Set(),
  weight: 1,
  config: { models: [], weight: 1 },
});

function target(name: string, keys: string[], maxRetries = 2): Target {
  const entry = {
    name,
    keys: keys.map(key),
    maxRetries,
    backoffInitialMs: 10,
    backoffMaxMs: 40,
    timeoutMs: 1000,
    keysByModel: new Map(),
  } as unknown as ProviderEntry;
  return { entry, model: 'm', ref: `${name}/m`, passThrough: true };
}

const answer = (
  status: number,
  body: unknown = { error: { message: `status ${status}` } },
): UpstreamResponse => ({
  status,
  headers: {},
  body: Buffer.from(JSON.stringify(body)),
});

/** An environment scripted per call: each entry answers one attempt. */
function env(script: (UpstreamResponse | UpstreamError)[], opts: { signal?: Cancel } = {}) {
  const calls: { target: string; key: string }[] = [];
  const failures: AttemptFailure[] = [];
  const sleeps: number[] = [];
  const e: AttemptEnv = {
    signal: opts.signal ?? new Cancel(),
    pickKey: (t, avoid) => t.entry.keys.find((k) => !avoid?.has(k.name)),
    send: async (t, k) => {
      calls.push({ target: t.entry.name, key: k.name });
      const next = script.shift();
      if (!next) throw new Error('script exhausted');
      if (next instanceof UpstreamError) throw next;
      return next;
    },
    classify: (_t, r) => classifyByStatus(r.status, r.body as Buffer),
    onFailure: (f) => failures.push(f),
    errorFor: (f) => new HttpError(f.status || 502, f.kind),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    now: () => 0,
  };
  return { e, calls, failures, sleeps };
}

describe('attempt loop', () => {
  it('returns the first 2xx', async () => {
    const { e, calls } = env([answer(200, {})]);
    const r = await runAttempts([target('a', ['k1'])], e);
    expect(r.ok).toBe(true);
    expect(calls).toEqual([{ target: 'a', key: 'k1' }]);
  });

  it('retries a 5xx on another key when there is one, with backoff, then succeeds', async () => {
    const { e, calls, sleeps } = env([answer(500), answer(200, {})]);
    const r = await runAttempts([target('a', ['k1', 'k2'])], e);
    expect(r.ok && r.attempts).toBe(2);
    expect(calls.map((c) => c.key)).toEqual(['k1', 'k2']);
    expect(sleeps).toEqual([10]);
  });

  it('retries the only key after a transient failure (maxRetries + 1 attempts in all)', async () => {
    const { e, calls } = env([answer(502), new UpstreamError('timeout', 't'), answer(503)]);
    const r = await runAttempts([target('a', ['k1'], 2)], e);
    expect(r.ok).toBe(false);
    expect(calls.map((c) => c.key)).toEqual(['k1', 'k1', 'k1']);
  });

  it('an auth failure switches key without using up a retry, and never returns to that key', async () => {
    const { e, calls } = env([answer(401), answer(500), answer(200, {})]);
    const r = await runAttempts([target('a', ['bad', 'good'], 1)], e);
    expect(r.ok).toBe(true);
    expect(calls.map((c) => c.key)).toEqual(['bad', 'good', 'good']);
  });

  it('a model-scoped 403/404 is its own kind with a (key, model) cool-down', async () => {
    const { e, failures } = env([
      answer(404, { error: { message: 'The model `x` does not exist', code: 'model_not_found' } }),
    ]);
    await runAttempts([target('a', ['k1'], 0)], e);
    expect(failures[0]!.kind).toBe('model_refused');
    expect(failures[0]!.policy.coolDown).toMatchObject({ scope: 'key_model' });
    expect(POLICY.auth.coolDown).toMatchObject({ scope: 'key' });
  });

  it('a 400 is final: no retry, no fallback', async () => {
    const { e, calls } = env([answer(400)]);
    const r = await runAttempts([target('a', ['k1', 'k2']), target('b', ['k'])], e);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.status).toBe(400);
    expect(calls).toHaveLength(1);
  });

  it('falls back to the next target after the retries; every attempt is counted', async () => {
    const { e, calls } = env([answer(500), answer(500), answer(200, {})]);
    const r = await runAttempts([target('a', ['k1'], 1), target('b', ['k'])], e);
    expect(r.ok && r.targetIndex).toBe(1);
    expect(r.attempts).toBe(3);
    expect(calls.map((c) => c.target)).toEqual(['a', 'a', 'b']);
  });

  it('is bounded whatever the upstream does: keys × (retries + 1) attempts at most per target', async () => {
    const script = Array.from({ length: 100 }, () => answer(401));
    const { e, calls } = env(script);
    const r = await runAttempts([target('a', ['k1', 'k2', 'k3'], 2)], e);
    expect(r.ok).toBe(false);
    expect(calls.length).toBe(3);
  });

  it('stops at once when the client went away', async () => {
    const signal = new Cancel();
    const { e, calls } = env([answer(500), answer(200, {})], { signal });
    e.sleep = async () => signal.abort();
    const r = await runAttempts([target('a', ['k1'])], e);
    expect(!r.ok && r.aborted).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('an HttpError from a provider transform is the answer (never mistaken for a connection error)', async () => {
    const { e } = env([]);
    e.send = async () => {
      throw new HttpError(400, 'cannot express', 'invalid_request_error', 'x');
    };
    const r = await runAttempts([target('a', ['k1'])], e);
    expect(!r.ok && r.error.status).toBe(400);
  });
});
