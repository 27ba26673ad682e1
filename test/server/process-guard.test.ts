import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/observability/logger.js';
import { installProcessGuard } from '../../src/server/process-guard.js';

describe('process guard', () => {
  it('logs uncaught exceptions and unhandled rejections instead of letting them end the process', () => {
    const lines: string[] = [];
    const logger = { error: (_o: unknown, msg: string) => lines.push(msg) } as unknown as Logger;
    const uninstall = installProcessGuard(logger);
    try {
      (process.emit as (e: string, ...a: unknown[]) => boolean)(
        'uncaughtException',
        new Error('boom'),
        'uncaughtException',
      );
      process.emit('unhandledRejection', new Error('nope'), Promise.resolve());
    } finally {
      uninstall();
    }
    expect(lines).toEqual([
      'uncaught exception (kept serving)',
      'unhandled promise rejection (kept serving)',
    ]);
  });
});
