import { describe, expect, it } from 'vitest';
import { abortable } from '../../../src/cluster/discovery/util.js';

describe('abortable', () => {
  it('observes a promise that rejects after the signal had already aborted (no unhandled rejection)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ac = new AbortController();
      ac.abort(new Error('round timed out'));
      const late = new Promise<string>((_, reject) => setTimeout(() => reject(new Error('ETIMEOUT')), 5));
      await expect(abortable(late, ac.signal)).rejects.toThrow('round timed out');
      await new Promise((r) => setTimeout(r, 30));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('rejects when the signal aborts first and resolves otherwise', async () => {
    const ac = new AbortController();
    const slow = new Promise<string>((r) => setTimeout(() => r('late'), 50));
    const p = abortable(slow, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(abortable(Promise.resolve('ok'), new AbortController().signal)).resolves.toBe('ok');
  });
});
