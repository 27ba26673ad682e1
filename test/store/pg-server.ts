import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../support/ports.js';
import { requireBinary } from '../support/system.js';
import { waitFor } from '../support/wait.js';

const BIN = '/usr/lib/postgresql/15/bin';

function asPostgres(cmd: string, args: string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A throwaway PostgreSQL 15 on a loopback port (recipe: ../../../shared/notes/test-infrastructure.md). */
export class PgServer {
  readonly dir: string;
  readonly dataDir: string;
  readonly sockDir: string;
  port = 0;
  readonly database = 'deepintshield';
  readonly user = 'postgres';

  /** `listen` is the address to serve on (a test network's root leg for nodes in namespaces). */
  constructor(readonly listen = '127.0.0.1') {
    requireBinary(join(BIN, 'initdb'));
    this.dir = mkdtempSync(join(tmpdir(), 'dis-pg-'));
    chmodSync(this.dir, 0o755);
    this.dataDir = join(this.dir, 'data');
    this.sockDir = join(this.dir, 'sock');
    execFileSync('mkdir', ['-p', this.dataDir, this.sockDir]);
    execFileSync('chown', ['-R', 'postgres:postgres', this.dir]);
  }

  async init(): Promise<this> {
    asPostgres('initdb', ['-D', this.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    // test networks (test/support/netns.ts) live in 10.77.0.0/16
    execFileSync('runuser', [
      '-u',
      'postgres',
      '--',
      'sh',
      '-c',
      `echo 'host all all 10.77.0.0/16 trust' >> ${join(this.dataDir, 'pg_hba.conf')}`,
    ]);
    this.port = await freePort();
    await this.start();
    const c = new pg.Client(this.clientConfig('postgres'));
    await c.connect();
    await c.query(`CREATE DATABASE ${this.database}`);
    await c.end();
    return this;
  }

  async start(): Promise<void> {
    asPostgres('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      join(this.dir, 'sock', 'log.txt'),
      '-o',
      `-p ${this.port} -k ${this.sockDir} -c fsync=off -c listen_addresses=${this.listen} -c max_connections=50`,
      '-w',
      '-t',
      '30',
      'start',
    ]);
    await waitFor(
      async () => {
        const c = new pg.Client(this.clientConfig('postgres'));
        try {
          await c.connect();
          await c.query('SELECT 1');
          return true;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      { timeoutMs: 20_000, what: 'postgres to accept connections' },
    );
  }

  /** Fast stop (as when the database host goes away). */
  stop(): void {
    try {
      asPostgres('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', '-t', '20', 'stop']);
    } catch {
      this.killByPid();
    }
  }

  private killByPid(): void {
    try {
      const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
  }

  clientConfig(database = this.database): pg.ClientConfig {
    return { host: this.listen, port: this.port, user: this.user, database };
  }

  /** The `config_store` block for a node config. */
  storeConfig(): Record<string, unknown> {
    return {
      enabled: true,
      type: 'postgres',
      config: {
        host: this.listen,
        port: String(this.port),
        user: this.user,
        password: '',
        db_name: this.database,
        ssl_mode: 'disable',
      },
    };
  }

  async query(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    const c = new pg.Client(this.clientConfig());
    await c.connect();
    try {
      return await c.query(sql, params);
    } finally {
      await c.end();
    }
  }

  destroy(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
