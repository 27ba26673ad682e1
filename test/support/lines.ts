import type { Readable } from 'node:stream';

/**
 * Calls `onLine` for every complete line a child process writes (its stdout),
 * without the newline; the last partial line waits for the rest. Also parses
 * JSON lines for `onJson` when given (non-JSON lines are skipped there).
 */
export function onLines(
  stream: Readable,
  onLine: (line: string) => void,
  onJson?: (value: Record<string, unknown>) => void,
): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
      if (onJson && line.startsWith('{'))
        try {
          onJson(JSON.parse(line));
        } catch {
          /* not JSON */
        }
      i = buf.indexOf('\n');
    }
  });
}
