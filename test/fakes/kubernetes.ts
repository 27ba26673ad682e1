import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A contract fake of the Kubernetes API server's pod endpoints, over HTTPS
 * with a self-signed certificate made by `openssl` at start-up:
 *  - GET /api/v1/namespaces/<ns>/pods?labelSelector=...        → PodList (metadata.resourceVersion)
 *  - same with watch=true[&resourceVersion=N]                    → newline-delimited JSON watch events
 *    ({"type":"ADDED|MODIFIED|DELETED","object":Pod}), headers sent at once,
 *    events after N replayed first; 410 Expired event when N is too old
 *  - Bearer token required (401 Status); namespaces listed in `forbidden` → 403 Status
 */
export interface FakePodSpec {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  ip?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ready?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: free-form Kubernetes JSON
type Pod = Record<string, any>;

function status(code: number, reason: string, message: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    details: { kind: 'pods' },
    code,
  };
}

/** labelSelector subset: a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x,y). */
export function matchesSelector(labels: Record<string, string>, selector: string | null): boolean {
  if (!selector) return true;
  const parts = selector.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  return parts.every((raw) => {
    const p = raw.trim();
    if (!p) return true;
    const set = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(p);
    const ne = /^([^!=]+)!=(.*)$/.exec(p);
    const eq = /^([^!=]+)==?(.*)$/.exec(p);
    if (set) {
      const m = set;
      const vals = m[3]!.split(',').map((v) => v.trim());
      const has = m[1]! in labels && vals.includes(labels[m[1]!]!);
      return m[2] === 'in' ? has : !has;
    }
    if (ne) return labels[ne[1]!.trim()] !== ne[2]!.trim();
    if (eq) return labels[eq[1]!.trim()] === eq[2]!.trim();
    if (p.startsWith('!')) return !(p.slice(1) in labels);
    return p in labels;
  });
}

export class FakeKubernetes {
  readonly token = 'fake-sa-token';
  readonly dir = mkdtempSync(join(tmpdir(), 'dis-k8s-'));
  readonly certFile = join(this.dir, 'tls.crt');
  readonly keyFile = join(this.dir, 'tls.key');
  /** Namespaces where the service account may not list/watch pods. */
  readonly forbidden = new Set<string>();
  readonly requests: Array<{ path: string; query: string; auth?: string }> = [];
  private readonly pods = new Map<string, Pod>();
  private readonly history: Array<{ rv: number; type: string; object: Pod }> = [];
  private rv = 100;
  private server?: Server;
  private readonly watchers = new Set<{ ns: string; selector: string | null; res: ServerResponse }>();

  async start(): Promise<number> {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        this.keyFile,
        '-out',
        this.certFile,
        '-days',
        '1',
        '-subj',
        '/CN=fake-kube-apiserver',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
    this.server = createServer(
      { cert: readFileSync(this.certFile), key: readFileSync(this.keyFile) },
      (req, res) => this.handle(req, res),
    );
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this.port;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig file for this server (token auth; CA = our cert, or skip-verify). */
  writeKubeconfig(opts: { namespace?: string; insecure?: boolean } = {}): string {
    const file = join(this.dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
    const cluster = opts.insecure
      ? `    insecure-skip-tls-verify: true`
      : `    certificate-authority: ${this.certFile}`;
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${this.url}
${cluster}
users:
- name: sa
  user:
    token: ${this.token}
contexts:
- name: fake
  context:
    cluster: fake
    user: sa
${opts.namespace ? `    namespace: ${opts.namespace}\n` : ''}current-context: fake
`,
    );
    return file;
  }

  /** Creates a root prefix holding var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}. */
  writeServiceAccount(namespace: string): string {
    const root = join(this.dir, `root-${Math.random().toString(36).slice(2)}`);
    const sa = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    execFileSync('mkdir', ['-p', sa]);
    writeFileSync(join(sa, 'token'), this.token);
    writeFileSync(join(sa, 'ca.crt'), readFileSync(this.certFile));
    writeFileSync(join(sa, 'namespace'), namespace);
    return root;
  }

  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private podObject(spec: FakePodSpec, uid: string): Pod {
    const ns = spec.namespace ?? 'default';
    const phase = spec.phase ?? 'Running';
    const ready = spec.ready ?? phase === 'Running';
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name: spec.name,
        namespace: ns,
        uid,
        labels: spec.labels ?? {},
        resourceVersion: String(++this.rv),
        creationTimestamp: new Date().toISOString(),
      },
      spec: { containers: [{ name: 'gateway', image: 'deepintshield:test' }] },
      status: {
        phase,
        podIP: spec.ip,
        podIPs: spec.ip ? [{ ip: spec.ip }] : undefined,
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: ready ? 'True' : 'False' },
        ],
      },
    };
  }

  /** Creates or replaces a pod (ADDED / MODIFIED to watchers). */
  upsertPod(spec: FakePodSpec): void {
    const key = `${spec.namespace ?? 'default'}/${spec.name}`;
    const prev = this.pods.get(key);
    const pod = this.podObject(spec, prev?.metadata.uid ?? `uid-${key}`);
    this.pods.set(key, pod);
    this.emit(prev ? 'MODIFIED' : 'ADDED', pod);
  }

  deletePod(name: string, namespace = 'default'): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) return;
    this.pods.delete(key);
    pod.metadata.resourceVersion = String(++this.rv);
    this.emit('DELETED', pod);
  }

  private emit(type: string, object: Pod): void {
    const rv = Number(object.metadata.resourceVersion);
    this.history.push({ rv, type, object });
    if (this.history.length > 1000) this.history.shift();
    for (const w of this.watchers) {
      if (w.ns === object.metadata.namespace && matchesSelector(object.metadata.labels, w.selector))
        w.res.write(`${JSON.stringify({ type, object })}\n`);
    }
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Audit-Id': Math.random().toString(36).slice(2),
    });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({ path: url.pathname, query: url.search, auth: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return this.json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (!m || req.method !== 'GET')
      return this.json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const ns = decodeURIComponent(m[1]!);
    const selector = url.searchParams.get('labelSelector');
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    if (this.forbidden.has(ns)) {
      const verb = watch ? 'watch' : 'list';
      return this.json(
        res,
        403,
        status(
          403,
          'Forbidden',
          `pods is forbidden: User "system:serviceaccount:${ns}:deepintshield" cannot ${verb} resource "pods" in API group "" in the namespace "${ns}"`,
        ),
      );
    }
    const items = [...this.pods.values()].filter(
      (p) => p.metadata.namespace === ns && matchesSelector(p.metadata.labels, selector),
    );
    if (!watch) {
      return this.json(res, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.rv) },
        items,
      });
    }
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
    });
    res.flushHeaders();
    const fromRv = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (!fromRv) {
      for (const p of items) res.write(`${JSON.stringify({ type: 'ADDED', object: p })}\n`);
    } else if (this.history.length && fromRv < this.history[0]!.rv - 1) {
      res.write(
        `${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${fromRv}`) })}\n`,
      );
      return void res.end();
    } else {
      for (const h of this.history) {
        if (
          h.rv > fromRv &&
          h.object.metadata.namespace === ns &&
          matchesSelector(h.object.metadata.labels, selector)
        )
          res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
      }
    }
    const w = { ns, selector, res };
    this.watchers.add(w);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    const t = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const done = () => {
      clearTimeout(t);
      this.watchers.delete(w);
    };
    res.once('close', done);
    req.once('close', done);
  }
}
