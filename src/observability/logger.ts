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
  return pino(options, opts.destination ?? stdoutDestination());
}

/** Past this much unwritten output (stdout blocked), lines are dropped rather than held. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Async stdout: a line is written at once when no write is in flight, and
 * lines logged during a write go out together in the next one. A timer-driven
 * batch (one write per 8 KiB or 50 ms) measured no faster (docs/benchmarks.md,
 * 2026-12-03) and made every line up to 50 ms late, so it went. pino flushes
 * what is left on exit.
 */
function stdoutDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_BYTES });
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
