import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireBinary } from './system.js';
import { waitFor } from './wait.js';

export const NGINX_CONF = resolve(import.meta.dirname, '../../deploy/compose/nginx.conf');

/**
 * The repo's nginx.conf pointed at test addresses: the `server` lines of the
 * upstream block replaced, the `listen` port changed, and every file path
 * (logs, pid, temp dirs) moved under `prefix`. Everything else is kept as is.
 */
export function renderNginxConf(
  conf: string,
  upstreams: string[],
  listen: string | number,
  prefix: string,
): string {
  let out = conf
    .replace(/^\s*(user|pid|error_log|access_log)\s+[^;]*;\s*$/gm, '')
    .replace(/(upstream\s+\S+\s*\{)([\s\S]*?)(\n\s*\})/, (_m, open: string, body: string, close: string) => {
      const kept = body.split('\n').filter((l) => !/^\s*server\s/.test(l));
      const line = (u: string) =>
        `    server ${u}${/max_fails=/.test(u) ? '' : ' max_fails=1 fail_timeout=2s'};`;
      return `${open}\n${upstreams.map(line).join('\n')}${kept.join('\n')}${close}`;
    })
    .replace(/listen\s+[^;]+;/g, `listen ${listen};`);
  out = out.replace(
    /http\s*\{/,
    (m) =>
      `${m}\n  access_log off;\n  client_body_temp_path ${prefix}/body;\n  proxy_temp_path ${prefix}/proxy;\n  fastcgi_temp_path ${prefix}/fastcgi;\n  uwsgi_temp_path ${prefix}/uwsgi;\n  scgi_temp_path ${prefix}/scgi;\n`,
  );
  return `error_log ${prefix}/error.log warn;\n${out}`;
}

export function writeNginxConf(dir: string, upstreams: string[], listen: string | number): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'nginx.conf');
  writeFileSync(path, renderNginxConf(readFileSync(NGINX_CONF, 'utf8'), upstreams, listen, dir));
  return path;
}

/** `nginx -t` on a rendered copy; throws with nginx's output on failure. */
export function nginxTest(dir: string, confPath: string): string {
  requireBinary('nginx');
  return execFileSync(
    'nginx',
    ['-t', '-e', join(dir, 'error.log'), '-p', dir, '-c', confPath, '-g', `pid ${dir}/nginx.pid;`],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Starts nginx in the foreground; stop it with stopNginx (by PID). */
export async function startNginx(dir: string, confPath: string, healthUrl: string): Promise<ChildProcess> {
  requireBinary('nginx');
  const child = spawn(
    'nginx',
    ['-e', join(dir, 'error.log'), '-p', dir, '-c', confPath, '-g', `daemon off; pid ${dir}/nginx.pid;`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}`);
      return (await fetch(healthUrl, { signal: AbortSignal.timeout(1000) })).ok;
    },
    { timeoutMs: 10_000, what: 'nginx' },
  );
  return child;
}

export async function stopNginx(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}
