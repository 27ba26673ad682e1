import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRequestBody } from '../support/http-request.js';

/**
 * A contract fake of the Consul agent HTTP API subset that service discovery
 * uses, matching what a real agent answers:
 *  - PUT  /v1/agent/service/register          (Check with TTL, DeregisterCriticalServiceAfter)
 *  - PUT  /v1/agent/service/deregister/<id>
 *  - PUT  /v1/agent/check/pass/<check id>     (default check id "service:<service id>")
 *  - GET  /v1/agent/services
 *  - GET  /v1/health/service/<name>?passing&index&wait   (blocking query, X-Consul-Index)
 *  - GET  /v1/status/leader
 * TTL checks start critical and go critical again when not passed in time.
 * With `token` set, every call needs X-Consul-Token (or ?token=), else 403.
 */
export interface FakeService {
  ID: string;
  Service: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  checkId?: string;
  ttlMs?: number;
  status: 'passing' | 'warning' | 'critical';
  output: string;
  lastPass: number;
  criticalSince: number;
  deregisterAfterMs?: number;
}

export function parseGoDuration(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)?$/.exec(s.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return Number(m[1]) * mult[m[2] ?? 's']!;
}

export class FakeConsul {
  readonly services = new Map<string, FakeService>();
  /** Raft-like index: bumps on every change visible to health queries. */
  index = 1;
  readonly requests: Array<{ method: string; path: string; token?: string }> = [];
  private server?: Server;
  private waiters = new Set<() => void>();
  private ticker?: NodeJS.Timeout;
  /** When true, every request gets a 500 (agent unreachable-ish). */
  failing = false;

  constructor(readonly opts: { token?: string } = {}) {}

  async start(port = 0): Promise<number> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.ticker = setInterval(() => this.expire(), 100);
    return (this.server.address() as AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    for (const w of this.waiters) w();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private bump(): void {
    this.index++;
    for (const w of [...this.waiters]) w();
  }

  private expire(): void {
    const now = Date.now();
    for (const s of this.services.values()) {
      if (s.ttlMs && s.status === 'passing' && now - s.lastPass > s.ttlMs) {
        s.status = 'critical';
        s.output = 'TTL expired';
        s.criticalSince = now;
        this.bump();
      }
      if (
        s.deregisterAfterMs !== undefined &&
        s.status === 'critical' &&
        now - s.criticalSince > s.deregisterAfterMs
      ) {
        this.services.delete(s.ID);
        this.bump();
      }
    }
  }

  private send(
    res: ServerResponse,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
      'X-Consul-Default-Acl-Policy': this.opts.token ? 'deny' : 'allow',
      ...headers,
    });
    res.end(text);
  }

  private async body(req: IncomingMessage): Promise<unknown> {
    const text = (await readRequestBody(req)).toString();
    return text ? JSON.parse(text) : undefined;
  }

  private healthEntries(name: string, passingOnly: boolean) {
    return [...this.services.values()]
      .filter((s) => s.Service === name && (!passingOnly || s.status === 'passing'))
      .sort((a, b) => (a.ID < b.ID ? -1 : 1))
      .map((s) => ({
        Node: {
          ID: 'fake-node-id',
          Node: 'fake-agent',
          Address: '127.0.0.1',
          Datacenter: 'dc1',
          TaggedAddresses: null,
          Meta: {},
        },
        Service: {
          ID: s.ID,
          Service: s.Service,
          Tags: s.Tags,
          Address: s.Address,
          Meta: s.Meta,
          Port: s.Port,
          Weights: { Passing: 1, Warning: 1 },
        },
        Checks: [
          {
            Node: 'fake-agent',
            CheckID: 'serfHealth',
            Name: 'Serf Health Status',
            Status: 'passing',
            Output: 'Agent alive and reachable',
            ServiceID: '',
            ServiceName: '',
          },
          ...(s.checkId
            ? [
                {
                  Node: 'fake-agent',
                  CheckID: s.checkId,
                  Name: `Service '${s.Service}' check`,
                  Status: s.status,
                  Output: s.output,
                  ServiceID: s.ID,
                  ServiceName: s.Service,
                  Type: 'ttl',
                },
              ]
            : []),
        ],
      }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const token =
      (req.headers['x-consul-token'] as string | undefined) ?? url.searchParams.get('token') ?? undefined;
    this.requests.push({ method: req.method ?? 'GET', path, token });
    try {
      if (this.failing) return this.send(res, 500, 'rpc error: No cluster leader');
      if (this.opts.token && token !== this.opts.token) return this.send(res, 403, 'ACL not found');
      const m = (re: RegExp) => re.exec(path);
      const dereg = m(/^\/v1\/agent\/service\/deregister\/(.+)$/);
      const passM = m(/^\/v1\/agent\/check\/pass\/(.+)$/);
      const health = m(/^\/v1\/health\/service\/(.+)$/);
      if (req.method === 'PUT' && path === '/v1/agent/service/register') {
        // biome-ignore lint/suspicious/noExplicitAny: free-form Consul JSON
        const b = (await this.body(req)) as Record<string, any>;
        if (!b?.Name) return this.send(res, 400, 'Missing service name');
        const id = b.ID || b.Name;
        const check = b.Check ?? (Array.isArray(b.Checks) ? b.Checks[0] : undefined);
        const ttlMs = parseGoDuration(check?.TTL);
        this.services.set(id, {
          ID: id,
          Service: b.Name,
          Address: b.Address ?? '',
          Port: b.Port ?? 0,
          Tags: b.Tags ?? [],
          Meta: b.Meta ?? {},
          checkId: check ? check.CheckID || `service:${id}` : undefined,
          ttlMs,
          status: check ? (check.Status ?? 'critical') : 'passing',
          output: '',
          lastPass: Date.now(),
          criticalSince: Date.now(),
          deregisterAfterMs: parseGoDuration(check?.DeregisterCriticalServiceAfter),
        });
        this.bump();
        return this.send(res, 200);
      }
      if (req.method === 'PUT' && dereg) {
        const id = decodeURIComponent(dereg[1]!);
        if (!this.services.delete(id))
          return this.send(
            res,
            404,
            `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
          );
        this.bump();
        return this.send(res, 200);
      }
      if (req.method === 'PUT' && passM) {
        const id = decodeURIComponent(passM[1]!);
        const s = [...this.services.values()].find((x) => x.checkId === id);
        if (!s)
          return this.send(
            res,
            404,
            `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
          );
        if (!s.ttlMs) return this.send(res, 500, `CheckID "${id}" does not have associated TTL`);
        s.lastPass = Date.now();
        s.output = url.searchParams.get('note') ?? '';
        if (s.status !== 'passing') {
          s.status = 'passing';
          this.bump();
        }
        return this.send(res, 200);
      }
      if (req.method === 'GET' && path === '/v1/agent/services') {
        const out: Record<string, unknown> = {};
        for (const s of this.services.values())
          out[s.ID] = {
            ID: s.ID,
            Service: s.Service,
            Tags: s.Tags,
            Meta: s.Meta,
            Port: s.Port,
            Address: s.Address,
            Datacenter: 'dc1',
          };
        return this.send(res, 200, out);
      }
      if (req.method === 'GET' && path === '/v1/status/leader') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify('127.0.0.1:8300'));
      }
      if (req.method === 'GET' && health) {
        const name = decodeURIComponent(health[1]!);
        const passing = url.searchParams.has('passing') && url.searchParams.get('passing') !== 'false';
        const index = Number(url.searchParams.get('index') ?? '0');
        const waitMs = Math.min(
          parseGoDuration(url.searchParams.get('wait') ?? undefined) ?? 300_000,
          600_000,
        );
        if (index > 0 && index >= this.index) {
          await new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(t);
              this.waiters.delete(done);
              resolve();
            };
            const t = setTimeout(done, waitMs + Math.random() * (waitMs / 16));
            this.waiters.add(done);
            req.once('close', done);
          });
          if (res.destroyed) return;
        }
        return this.send(res, 200, this.healthEntries(name, passing), {
          'X-Consul-Index': String(this.index),
          'X-Consul-Knownleader': 'true',
          'X-Consul-Lastcontact': '0',
        });
      }
      return this.send(res, 404, `Not found: ${req.method} ${path}`);
    } catch (err) {
      return this.send(res, 500, String(err));
    }
  }
}
