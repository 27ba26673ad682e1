import { describe, expect, it } from 'vitest';
import { DemandStats } from '../../../src/cluster/state/demand.js';

describe('per-key demand', () => {
  it('rates follow attempts, announce changes beyond 10%, and a key idle for 5 minutes is forgotten', () => {
    const d = new DemandStats();
    for (let i = 0; i < 10; i++) d.noteAttempt('vk:a');
    d.noteCharge('vk:a', 30);
    expect([...d.roll(1, 1000)]).toEqual(['vk:a']);
    expect(d.get('vk:a').rate).toBe(10);
    expect(d.get('vk:a').avgAmount).toBeCloseTo(0.7 + 0.3 * 30);
    for (let i = 0; i < 10; i++) d.noteAttempt('vk:a');
    expect([...d.roll(1, 2000)]).toEqual([]); // the same rate: nothing to announce
    // Idle from here: the rate decays, the key stays while it was active within 5 minutes.
    let t = 2000;
    while (t < 2000 + 5 * 60_000) {
      t += 500;
      d.roll(0.5, t);
    }
    expect(d.size).toBe(1);
    d.roll(0.5, t + 500);
    expect(d.size).toBe(0);
  });
});
