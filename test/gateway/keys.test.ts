import { describe, expect, it } from 'vitest';
import type { ProviderKeyGate } from '../../src/gateway/hooks.js';
import { pickKey, WeightedKeyRouter } from '../../src/gateway/keys.js';
import type { KeyEntry } from '../../src/providers/provider.js';

const key = (name: string, weight = 1): KeyEntry => ({
  name,
  value: 'v',
  models: new Set(),
  weight,
  config: { models: [], weight },
});

describe('key choice', () => {
  it('honours weights', () => {
    let i = 0;
    const seq = [0.1, 0.4, 0.95];
    const r = new WeightedKeyRouter(() => seq[i++ % seq.length]!);
    const keys = [key('a', 1), key('b', 1), key('c', 2)];
    const picks = seq.map(() => r.choose('p', 'm', keys, undefined));
    expect(picks).toEqual([0, 1, 2]);
  });

  it('never picks an avoided key; -1 when all are avoided', () => {
    const r = new WeightedKeyRouter(() => 0);
    const keys = [key('a'), key('b')];
    expect(r.choose('p', 'm', keys, new Set(['a']))).toBe(1);
    expect(r.choose('p', 'm', keys, new Set(['a', 'b']))).toBe(-1);
  });

  it('asks the gate per (key, model) and moves on when it refuses', () => {
    const asked: string[] = [];
    const gate: ProviderKeyGate = {
      tryAcquire: (_p, k, m) => {
        asked.push(`${k}:${m}`);
        return k === 'b';
      },
      coolDown: () => {},
      recordTokens: () => {},
    };
    const k = pickKey('p', 'gpt', [key('a'), key('b')], undefined, new WeightedKeyRouter(() => 0), gate);
    expect(k?.name).toBe('b');
    expect(asked).toEqual(['a:gpt', 'b:gpt']);
  });

  it('returns undefined when every key is refused, without looping', () => {
    const gate: ProviderKeyGate = { tryAcquire: () => false, coolDown: () => {}, recordTokens: () => {} };
    expect(
      pickKey('p', 'm', [key('a'), key('b'), key('c')], undefined, new WeightedKeyRouter(), gate),
    ).toBeUndefined();
  });
});
