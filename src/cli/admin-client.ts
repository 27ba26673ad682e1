/**
 * The CLI's client for a node's admin API: base URL and token from flags or
 * the environment, the API's error bodies turned into readable lines and an
 * exit code (2 for field errors, 1 for anything else).
 */
export interface AdminTarget {
  url: string;
  token?: string;
}

export class AdminCliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function adminTarget(opts: { url?: string; token?: string }): AdminTarget {
  const url = (opts.url ?? process.env.DEEPINTSHIELD_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = opts.token ?? process.env.DEEPINTSHIELD_ADMIN_TOKEN;
  return token ? { url, token } : { url };
}

export async function adminRequest<T>(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T | undefined> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new AdminCliError(`cannot reach ${target.url}: ${(err as Error).message}`, 1);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (res.ok) return data as T | undefined;
  const message =
    (data as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${res.status}`;
  if (res.status === 400)
    throw new AdminCliError(message.split(/; (?=[A-Za-z0-9_.()[\]-]+: )/).join('\n'), 2);
  const hint =
    res.status === 401
      ? ' (pass --token or set DEEPINTSHIELD_ADMIN_TOKEN)'
      : res.status === 403
        ? ' (without an admin token the node answers only loopback clients)'
        : '';
  throw new AdminCliError(`${method} ${path}: ${res.status} ${message}${hint}`, 1);
}

/** Left-aligned columns, header in bold on a terminal. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const bold = process.stdout.isTTY ? (s: string) => `\x1b[1m${s}\x1b[0m` : (s: string) => s;
  process.stdout.write(`${bold(line(header))}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

/** Runs one CLI action: prints an AdminCliError and exits with its code. */
export async function runAdmin(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (err instanceof AdminCliError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err.exitCode);
    }
    throw err;
  }
}

export function csv(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
