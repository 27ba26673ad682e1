import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onLines } from '../support/lines.js';

const loggerModule = fileURLToPath(new URL('../../src/observability/logger.ts', import.meta.url));

/** Runs `body` in a child node with `log` = createLogger() on stdout; resolves with its stdout lines and when each arrived. */
function runChild(body: string): Promise<{ lines: { msg: string; at: number }[]; code: number | null }> {
  const script = `import { createLogger } from ${JSON.stringify(loggerModule)};
const log = createLogger({ level: 'info' });
${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started = performance.now();
    const lines: { msg: string; at: number }[] = [];
    onLines(
      child.stdout,
      () => {},
      (line) => lines.push({ msg: String(line.msg), at: performance.now() - started }),
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ lines, code });
    });
  });
}

describe('the stdout logger (async, bounded)', () => {
  it('writes every buffered line when the process exits at once', async () => {
    const { lines, code } = await runChild(
      `for (let i = 0; i < 1000; i++) log.info('line ' + i);
process.exit(0);`,
    );
    expect(code).toBe(0);
    expect(lines.map((l) => l.msg)).toEqual(Array.from({ length: 1000 }, (_, i) => `line ${i}`));
  });

  it('writes a lone line at once while the process keeps running', async () => {
    const { lines } = await runChild(
      `log.info('first');
setTimeout(() => { log.info('second'); setTimeout(() => process.exit(0), 1000); }, 1000);`,
    );
    expect(lines.map((l) => l.msg)).toEqual(['first', 'second']);
    // 'first' reached the parent well before 'second' was logged (about 1 s later), not at exit.
    const [first, second] = lines.map((l) => l.at) as [number, number];
    expect(second - first).toBeGreaterThan(700);
    // and 'second' before the exit another second on.
    expect(second).toBeLessThan(first + 1700);
  });
});
