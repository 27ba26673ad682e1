import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  format?: 'json' | 'pretty';
  /** Extra fields on every line (node name, ...). */
  base?: Record<string, unknown>;
  destination?: pino.DestinationStream;
}

/**
 * One JSON object per line on stdout. Secret-bearing fields are redacted by
 * path as a second line of defence; the first is never passing secrets in.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: { pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'authorization',
        'headers.authorization',
        'req.headers.authorization',
        'req.headers["x-deepintshield-vk"]',
        'headers["x-deepintshield-vk"]',
        '*.value',
        '*.api_key',
        '*.password',
        '*.admin_token',
        '*.encryption_key',
        'password',
        'token',
      ],
      censor: '[redacted]',
    },
  };
  if (opts.format === 'pretty') return pino(options, prettyStream());
  return pino(options, opts.destination ?? batchedStdout());
}

/** Longest a line waits in the buffer before it is written. */
const FLUSH_AFTER_MS = 50;
/** A buffer this full is written at once. */
const WRITE_AT_BYTES = 8 * 1024;
/** Past this much unwritten output (stdout blocked), lines are dropped rather than held. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Stdout with lines batched: one write per 8 KiB or 50 ms. Measured against
 * plain async sonic-boom (which already coalesces lines while a write is in
 * flight), it gained nothing (docs/benchmarks.md, 2026-12-03); kept pending a
 * clean A/B. pino flushes what is buffered on exit.
 */
function batchedStdout(): pino.DestinationStream {
  const sonic = pino.destination({
    dest: 1,
    sync: false,
    minLength: WRITE_AT_BYTES,
    maxLength: MAX_BUFFERED_BYTES,
  });
  let timer: NodeJS.Timeout | undefined;
  const stream = {
    write(line: string): boolean {
      const ok = sonic.write(line);
      if (timer === undefined) {
        timer = setTimeout(() => {
          try {
            stream.flush();
          } catch {
            // destroyed at shutdown: nothing left to write to
          }
        }, FLUSH_AFTER_MS);
        timer.unref();
      }
      return ok;
    },
    flush(cb?: (err?: Error) => void): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      sonic.flush(cb);
    },
    flushSync(): void {
      sonic.flushSync();
    },
  };
  return stream;
}

/** A dependency-free human format: "12:00:01 INFO  msg key=value". */
function prettyStream(): pino.DestinationStream {
  const colour = process.stdout.isTTY;
  const paint: Record<string, string> = {
    info: '32',
    warn: '33',
    error: '31',
    fatal: '35',
    debug: '90',
    trace: '90',
  };
  return {
    write(line: string) {
      try {
        const { time, level, msg, pid: _pid, hostname: _h, ...rest } = JSON.parse(line);
        const lvl = String(level).toUpperCase().padEnd(5);
        const fields = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        const t = String(time).slice(11, 19);
        const head = colour ? `\x1b[${paint[level] ?? '0'}m${lvl}\x1b[0m` : lvl;
        process.stdout.write(`${t} ${head} ${msg}${fields ? ` ${fields}` : ''}\n`);
      } catch {
        process.stdout.write(line);
      }
    },
  };
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
