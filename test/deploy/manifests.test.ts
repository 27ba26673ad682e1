import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  DEFAULT_DRAIN_TIMEOUT_SECONDS,
  DEFAULT_GOSSIP_PORT,
  DEFAULT_HTTP_PORT,
  DEFAULT_K8S_LABEL_SELECTOR,
  DEFAULT_SERVICE_NAME,
  HEALTH_PATH,
  K8S_LABELS,
  K8S_PORT_NAMES,
  READY_PATH,
} from '../../src/config/defaults.js';
import { parseConfigText } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { nginxTest, writeNginxConf } from '../support/nginx.js';
import { requireBinary } from '../support/system.js';
import { HelmRenderer } from './helm-render.js';

const REPO = resolve(import.meta.dirname, '../..');
const K8S = join(REPO, 'deploy/kubernetes');
const CHART = join(REPO, 'deploy/helm/deepintshield');

/** Values for every "env.NAME" the shipped configs reference. */
const ENV: NodeJS.ProcessEnv = {
  DEEPINTSHIELD_ADMIN_TOKEN: 'test-admin-token-0123456789',
  OPENAI_API_KEY: 'sk-test-openai',
  POD_IP: '10.1.2.3',
  DEMO_VIRTUAL_KEY: 'sk-demo-0123456789',
  GOSSIP_KEY: Buffer.alloc(32, 9).toString('base64'),
  POSTGRES_PASSWORD: 'pg-password',
};

type Obj = Record<string, any>;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function yamlDocs(text: string, source: string): Obj[] {
  const docs = parseAllDocuments(text, { merge: true });
  for (const d of docs)
    if (d.errors.length) throw new Error(`${source}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Obj).filter((d) => d != null);
}

function k8sObjects(files: string[]): Map<string, Obj> {
  const out = new Map<string, Obj>();
  for (const f of files)
    for (const o of yamlDocs(readFileSync(f, 'utf8'), f)) out.set(`${o.kind}/${o.metadata.name}`, o);
  return out;
}

/** ConfigMaps compared by their parsed config.json, not its text layout. */
function normalize(objs: Map<string, Obj>): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  for (const [k, o] of objs) {
    const c = structuredClone(o);
    if (c.kind === 'ConfigMap') c.data['config.json'] = parseJsonc(c.data['config.json']);
    out[k] = c;
  }
  return out;
}

const staticFiles = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(K8S, f));
const objects = k8sObjects(staticFiles);
const get = (kind: string, name: string): Obj => {
  const o = objects.get(`${kind}/${name}`);
  if (!o) throw new Error(`missing ${kind}/${name} in deploy/kubernetes`);
  return o;
};

describe('every YAML file under deploy/ parses', () => {
  const files = walk(join(REPO, 'deploy')).filter(
    (f) => /\.ya?ml$/.test(f) && !f.includes('/helm/deepintshield/templates/'),
  );
  it.each(files.map((f) => relative(REPO, f)))('%s', (f) => {
    expect(yamlDocs(readFileSync(join(REPO, f), 'utf8'), f).length).toBeGreaterThan(0);
  });
});

describe('kubernetes manifests', () => {
  const sts = get('StatefulSet', 'deepintshield');
  const variant = k8sObjects([
    join(K8S, 'deployment-variant/00-configmap.yaml'),
    join(K8S, 'deployment-variant/deployment.yaml'),
  ]);
  const dep = variant.get('Deployment/deepintshield')!;
  const cm = get('ConfigMap', 'deepintshield-config');
  const config = parseConfigText(cm.data['config.json'], 'configmap config.json', ENV);
  const variantCm = variant.get('ConfigMap/deepintshield-config')!;
  const variantConfig = parseConfigText(variantCm.data['config.json'], 'variant config.json', ENV);

  it("gossip is encrypted with the Secret's key; the Deployment variant uses PostgreSQL", () => {
    expect(config.cluster_config.gossip.encryption_key).toBe(ENV.GOSSIP_KEY);
    expect(variantConfig.cluster_config.gossip.encryption_key).toBe(ENV.GOSSIP_KEY);
    expect(config.config_store.type).toBe('sqlite');
    expect(variantConfig.config_store).toMatchObject({
      type: 'postgres',
      config: { password: ENV.POSTGRES_PASSWORD },
    });
    const { config_store: _a, ...restVariant } = variantConfig;
    const { config_store: _b, ...rest } = config;
    expect(restVariant).toEqual(rest);
  });

  it('ConfigMap config.json passes the real validator and uses kubernetes discovery with the shared selector', () => {
    const d = config.cluster_config.discovery;
    expect(config.cluster_config.enabled).toBe(true);
    expect(d).toMatchObject({
      enabled: true,
      type: 'kubernetes',
      k8s_label_selector: DEFAULT_K8S_LABEL_SELECTOR,
      service_name: DEFAULT_SERVICE_NAME,
    });
    expect(config.server.port).toBe(DEFAULT_HTTP_PORT);
    expect(config.cluster_config.gossip.port).toBe(DEFAULT_GOSSIP_PORT);
    expect(config.server.drain_timeout_seconds).toBe(DEFAULT_DRAIN_TIMEOUT_SECONDS);
    expect(config.cluster_config.advertise_address).toBe(ENV.POD_IP);
  });

  it('the label selector matches the pod labels, and every object carries the labels', () => {
    const selector = Object.fromEntries(
      DEFAULT_K8S_LABEL_SELECTOR.split(',').map((kv) => kv.split('=') as [string, string]),
    );
    expect(selector).toEqual(K8S_LABELS);
    for (const o of [...objects.values(), dep])
      expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject(K8S_LABELS);
    for (const w of [sts, dep]) {
      expect(w.spec.template.metadata.labels).toMatchObject(K8S_LABELS);
      expect(w.spec.selector.matchLabels).toEqual(K8S_LABELS);
    }
    expect(get('Service', DEFAULT_SERVICE_NAME).spec.selector).toEqual(K8S_LABELS);
    expect(get('Service', 'deepintshield').spec.selector).toEqual(K8S_LABELS);
    expect(get('PodDisruptionBudget', 'deepintshield').spec).toEqual({
      minAvailable: 2,
      selector: { matchLabels: K8S_LABELS },
    });
  });

  it('RBAC lets the service account get/list/watch pods', () => {
    const role = get('Role', 'deepintshield-discovery');
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    const rb = get('RoleBinding', 'deepintshield-discovery');
    expect(rb.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'deepintshield-discovery',
    });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'deepintshield' }]);
    get('ServiceAccount', 'deepintshield');
    for (const w of [sts, dep]) expect(w.spec.template.spec.serviceAccountName).toBe('deepintshield');
  });

  it('services: headless gossip (TCP+UDP, not-ready addresses published) and a LoadBalancer for HTTP', () => {
    const gossip = get('Service', DEFAULT_SERVICE_NAME).spec;
    expect(gossip.clusterIP).toBe('None');
    expect(gossip.publishNotReadyAddresses).toBe(true);
    expect(gossip.ports).toEqual([
      {
        name: K8S_PORT_NAMES.gossipTcp,
        port: DEFAULT_GOSSIP_PORT,
        targetPort: K8S_PORT_NAMES.gossipTcp,
        protocol: 'TCP',
      },
      {
        name: K8S_PORT_NAMES.gossipUdp,
        port: DEFAULT_GOSSIP_PORT,
        targetPort: K8S_PORT_NAMES.gossipUdp,
        protocol: 'UDP',
      },
    ]);
    const http = get('Service', 'deepintshield').spec;
    expect(http.type).toBe('LoadBalancer');
    expect(http.ports).toEqual([
      { name: 'http', port: 80, targetPort: K8S_PORT_NAMES.http, protocol: 'TCP' },
    ]);
    expect(sts.spec.serviceName).toBe(DEFAULT_SERVICE_NAME);
  });

  it.each([
    ['StatefulSet', sts, cm],
    ['Deployment', dep, variantCm],
  ])('%s pod: ports, probes, drain timing, resources, security context, config mount', (_k, w, cm) => {
    const pod = w.spec.template.spec;
    const [c] = pod.containers;
    expect(c.ports).toEqual([
      { name: K8S_PORT_NAMES.http, containerPort: DEFAULT_HTTP_PORT, protocol: 'TCP' },
      { name: K8S_PORT_NAMES.gossipTcp, containerPort: DEFAULT_GOSSIP_PORT, protocol: 'TCP' },
      { name: K8S_PORT_NAMES.gossipUdp, containerPort: DEFAULT_GOSSIP_PORT, protocol: 'UDP' },
    ]);
    expect(c.livenessProbe.httpGet).toEqual({ path: HEALTH_PATH, port: K8S_PORT_NAMES.http });
    expect(c.readinessProbe.httpGet).toEqual({ path: READY_PATH, port: K8S_PORT_NAMES.http });
    const preStop = c.lifecycle.preStop.exec.command as string[];
    expect(preStop[0]).toBe('sleep');
    const preStopSeconds = Number(preStop[1]);
    expect(preStopSeconds).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      preStopSeconds + config.server.drain_timeout_seconds,
    );
    expect(c.resources.requests.cpu).toBeTruthy();
    expect(c.resources.requests.memory).toBeTruthy();
    expect(c.resources.limits.memory).toBeTruthy();
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    // env refs in the ConfigMap are all provided by the pod
    const envNames = new Set((c.env as { name: string }[]).map((e) => e.name));
    for (const ref of cm.data['config.json'].matchAll(/"env\.([A-Z0-9_]+)"/g))
      expect(envNames.has(ref[1])).toBe(true);
    expect(c.args).toEqual(['start', '--config', '/etc/deepintshield/config.json']);
    const mounts = Object.fromEntries(
      (c.volumeMounts as { name: string; mountPath: string }[]).map((m) => [m.mountPath, m.name]),
    );
    expect(mounts['/etc/deepintshield']).toBe('config');
    expect(mounts['/tmp']).toBeTruthy();
    // the SQLite store (StatefulSet) is on the writable data volume
    if (w.kind === 'StatefulSet')
      expect(
        config.config_store.type === 'sqlite' && config.config_store.config.path.startsWith('/data/'),
      ).toBe(true);
    expect(mounts['/data']).toBe('data');
  });
});

describe('helm chart', () => {
  const helm = new HelmRenderer(CHART);

  it('Chart.yaml is a v2 chart', () => {
    const chart = yamlDocs(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'), 'Chart.yaml')[0]!;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'deepintshield', type: 'application' });
  });

  it('renders, with default values, to the same objects as deploy/kubernetes', () => {
    const rendered = new Map<string, Obj>();
    for (const [f, text] of helm.render('deepintshield'))
      for (const o of yamlDocs(text, f)) rendered.set(`${o.kind}/${o.metadata.name}`, o);
    expect(normalize(rendered)).toEqual(normalize(objects));
  });

  it('renders the PostgreSQL Deployment variant with statefulset.enabled=false, configStore.postgres.enabled=true', () => {
    const rendered = new Map<string, Obj>();
    for (const [f, text] of helm.render('deepintshield', {
      statefulset: { enabled: false },
      configStore: { postgres: { enabled: true } },
    }))
      for (const o of yamlDocs(text, f)) rendered.set(`${o.kind}/${o.metadata.name}`, o);
    const variant = k8sObjects([
      join(K8S, 'deployment-variant/00-configmap.yaml'),
      join(K8S, 'deployment-variant/deployment.yaml'),
    ]);
    expect(rendered.get('Deployment/deepintshield')).toEqual(variant.get('Deployment/deepintshield'));
    const pick = (m: Map<string, Obj>) =>
      normalize(new Map([['cm', m.get('ConfigMap/deepintshield-config')!]]));
    expect(pick(rendered)).toEqual(pick(variant));
    expect(rendered.has('StatefulSet/deepintshield')).toBe(false);
  });

  it('values switch replicas, image, resources, discovery method and config store', () => {
    const rendered = new Map<string, Obj>();
    for (const [f, text] of helm.render('prod', {
      replicaCount: 5,
      image: { tag: '9.9.9' },
      resources: { requests: { cpu: '1', memory: '512Mi' } },
      discovery: { type: 'consul', consul_address: 'consul.service:8500', k8s_label_selector: null },
      configStore: { postgres: { enabled: true, host: 'pg.internal' } },
    }))
      for (const o of yamlDocs(text, f)) rendered.set(`${o.kind}/${o.metadata.name}`, o);
    const sts = rendered.get('StatefulSet/prod')!;
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.serviceName).toBe('prod-cluster');
    const c = sts.spec.template.spec.containers[0];
    expect(c.image).toBe('deepintshield:9.9.9');
    expect(c.resources.requests).toEqual({ cpu: '1', memory: '512Mi' });
    expect(c.env.map((e: { name: string }) => e.name)).toContain('POSTGRES_PASSWORD');
    const cfg = parseConfigText(rendered.get('ConfigMap/prod-config')!.data['config.json'], 'rendered', ENV);
    expect(cfg.cluster_config.discovery).toMatchObject({
      type: 'consul',
      consul_address: 'consul.service:8500',
    });
    expect(cfg.config_store).toMatchObject({
      type: 'postgres',
      config: { host: 'pg.internal', password: ENV.POSTGRES_PASSWORD },
    });
  });
});

describe('shipped config files pass the real validator', () => {
  const files = [
    join(REPO, 'config.example.json'),
    ...walk(join(REPO, 'deploy/compose')).filter((f) => f.endsWith('.json')),
  ];
  it.each(files.map((f) => relative(REPO, f)))('%s', (f) => {
    const cfg = parseConfigText(readFileSync(join(REPO, f), 'utf8'), f, ENV);
    expect(configSchema.parse(cfg)).toBeTruthy();
    if (f.startsWith('deploy/compose/')) {
      expect(cfg.cluster_config.enabled).toBe(true);
      expect(cfg.cluster_config.gossip.port).toBe(DEFAULT_GOSSIP_PORT);
      expect(cfg.server.port).toBe(DEFAULT_HTTP_PORT);
    }
  });

  it('config.example.json uses the mock provider and works without any environment variable', () => {
    const cfg = parseConfigText(
      readFileSync(join(REPO, 'config.example.json'), 'utf8'),
      'config.example.json',
      {},
    );
    expect(cfg.providers.mock).toBeTruthy();
  });

  it('compose files reference the node configs, the shared nginx.conf, and only variables of env.example', () => {
    const envExample = readFileSync(join(REPO, 'deploy/compose/env.example'), 'utf8');
    for (const setup of ['consul', 'etcd', 'postgres']) {
      const dir = join(REPO, 'deploy/compose', setup);
      const compose = yamlDocs(readFileSync(join(dir, 'docker-compose.yml'), 'utf8'), setup)[0]!;
      for (const n of ['node1', 'node2', 'node3']) {
        const svc = compose.services[n];
        expect(svc.volumes).toContain(`./${n}.json:/etc/deepintshield/config.json:ro`);
        expect(svc.stop_grace_period).toBe('45s');
        const cfg = parseConfigText(readFileSync(join(dir, `${n}.json`), 'utf8'), n, ENV);
        expect(cfg.cluster_config.advertise_address).toBe(svc.networks.cluster.ipv4_address);
        for (const ref of readFileSync(join(dir, `${n}.json`), 'utf8')
          .replace(/^\s*\/\/.*$/gm, '')
          .matchAll(/"env\.([A-Z0-9_]+)"/g))
          expect(envExample).toMatch(new RegExp(`^${ref[1]}=`, 'm'));
      }
      expect(compose.services.nginx.volumes).toContain('../nginx.conf:/etc/nginx/nginx.conf:ro');
      expect(compose.services[setup === 'etcd' ? 'etcd' : 'consul']).toBeTruthy();
    }
  });
});

describe('nginx.conf', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('has the load-balancing, retry and streaming settings', () => {
    const conf = readFileSync(join(REPO, 'deploy/compose/nginx.conf'), 'utf8');
    expect(conf).toMatch(/upstream\s+deepintshield\s*\{[^}]*least_conn;/);
    expect(conf).toMatch(/server\s+node1:8080\s+max_fails=\d+\s+fail_timeout=\d+s;/);
    expect(conf).toMatch(/keepalive\s+\d+;/);
    expect(conf).toMatch(/proxy_next_upstream\s+error timeout http_502 http_503 http_504\b/);
    expect(conf).toMatch(/proxy_next_upstream_tries\s+\d+;/);
    expect(conf).toMatch(/proxy_http_version\s+1\.1;/);
    expect(conf).toMatch(/proxy_set_header\s+Connection\s+"";/);
    for (const loc of ['/v1/', '/anthropic/']) {
      const block =
        new RegExp(`location\\s+${loc.replace(/\//g, '\\/')}\\s*\\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
      expect(block, loc).toMatch(/proxy_buffering\s+off;/);
      expect(block, loc).toMatch(/proxy_request_buffering\s+off;/);
    }
    expect(conf).toMatch(/proxy_read_timeout\s+\d+s;/);
    expect(conf).toMatch(/proxy_connect_timeout\s+\d+s;/);
    expect(conf.match(/listen\s+[^;]+;/g)).toHaveLength(1);
  });

  it('passes `nginx -t` (upstreams and listen port rewritten to loopback)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dis-nginx-t-'));
    dirs.push(dir);
    const conf = writeNginxConf(
      dir,
      ['127.0.0.1:18081', '127.0.0.1:18082', '127.0.0.1:18083'],
      '127.0.0.1:18080',
    );
    expect(() => nginxTest(dir, conf)).not.toThrow();
  });
});

describe('systemd unit', () => {
  const unitPath = join(REPO, 'deploy/systemd/deepintshield.service');
  const unit = readFileSync(unitPath, 'utf8');
  const directive = (k: string): string[] =>
    [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());

  it('passes `systemd-analyze verify`', () => {
    requireBinary('systemd-analyze');
    const dir = mkdtempSync(join(tmpdir(), 'dis-systemd-'));
    try {
      // Same unit; node's path made to match this machine so verify can check ExecStart.
      writeFileSync(
        join(dir, 'deepintshield.service'),
        unit.replace(/\/usr\/bin\/node\b/g, process.execPath),
      );
      execFileSync('systemd-analyze', ['verify', join(dir, 'deepintshield.service')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is hardened and waits longer than the drain', () => {
    expect(directive('User')[0] ?? directive('DynamicUser')[0]).toBeTruthy();
    expect(directive('NoNewPrivileges')).toEqual(['yes']);
    expect(directive('ProtectSystem')).toEqual(['strict']);
    expect(directive('ProtectHome')).toEqual(['yes']);
    expect(directive('PrivateTmp')).toEqual(['yes']);
    expect(directive('ReadWritePaths')).toEqual(['/var/lib/deepintshield']);
    expect(directive('CapabilityBoundingSet')).toEqual(['']);
    expect(directive('RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX AF_NETLINK']);
    expect(directive('MemoryDenyWriteExecute')).toEqual(['no']);
    expect(directive('KillSignal')).toEqual(['SIGTERM']);
    expect(directive('Restart')).toEqual(['on-failure']);
    expect(directive('EnvironmentFile')).toHaveLength(1);
    const stop = Number(/^(\d+)s?$/.exec(directive('TimeoutStopSec')[0]!)![1]);
    expect(stop).toBeGreaterThan(DEFAULT_DRAIN_TIMEOUT_SECONDS);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; lines: string[] }[] = [];
  for (const l of lines) {
    if (/^FROM\s/i.test(l)) stages.push({ from: l, lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('is multi-stage: npm ci + npm run build, then node:20-slim with production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0]!;
    expect(build.lines.some((l) => /^RUN .*\bnpm ci\b/.test(l))).toBe(true);
    expect(build.lines.some((l) => /^RUN .*\bnpm run build\b/.test(l))).toBe(true);
    expect(build.lines.some((l) => /npm prune --omit=dev/.test(l))).toBe(true);
    const runtime = stages.at(-1)!;
    expect(runtime.from).toMatch(/^FROM node:20-slim\b/);
    expect(runtime.lines.some((l) => /^COPY --from=build .*node_modules/.test(l))).toBe(true);
    expect(runtime.lines.some((l) => /npm (ci|install)/.test(l))).toBe(false);
  });

  it('runs as a non-root user, exposes HTTP and gossip, checks /health', () => {
    const runtime = stages.at(-1)!.lines;
    const user = runtime.filter((l) => /^USER\s/.test(l)).at(-1);
    expect(user).toBeTruthy();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|$)/);
    const expose = runtime.filter((l) => /^EXPOSE\s/.test(l)).flatMap((l) => l.split(/\s+/).slice(1));
    expect(new Set(expose)).toEqual(
      new Set([`${DEFAULT_HTTP_PORT}`, `${DEFAULT_GOSSIP_PORT}/tcp`, `${DEFAULT_GOSSIP_PORT}/udp`]),
    );
    const hc = runtime.find((l) => /^HEALTHCHECK\s/.test(l));
    expect(hc).toMatch(new RegExp(`127\\.0\\.0\\.1:${DEFAULT_HTTP_PORT}${HEALTH_PATH}`));
    expect(runtime.some((l) => /^ENTRYPOINT .*dist\/main\.js/.test(l))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore does not exclude', () => {
    for (const l of lines.filter((x) => /^COPY\s/.test(x) && !/--from=/.test(x))) {
      const parts = l.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(1, -1)) {
        expect(statSync(join(REPO, src)), src).toBeTruthy();
        expect(ignore, src).not.toContain(src.replace(/^\.\//, ''));
      }
    }
    for (const must of ['node_modules', '.git', '.env', 'dist']) expect(ignore).toContain(must);
  });
});

describe('grafana dashboard', () => {
  const dash = JSON.parse(readFileSync(join(REPO, 'deploy/grafana/deepintshield.json'), 'utf8'));

  /** Metric names the code registers (resolving `${P}` prefixes and the default-metrics prefix). */
  function definedMetrics(): { names: Set<string>; prefixes: string[] } {
    const names = new Set<string>();
    const prefixes: string[] = [];
    for (const f of walk(join(REPO, 'src')).filter((x) => x.endsWith('.ts'))) {
      let src = readFileSync(f, 'utf8');
      for (const m of src.matchAll(/const\s+(\w+)\s*=\s*'(deepintshield_[a-z0-9_]*)'/g))
        src = src.replaceAll(`\${${m[1]}}`, m[2]!);
      for (const m of src.matchAll(/name:\s*[`'"](deepintshield_[a-z0-9_]+)[`'"]/g)) names.add(m[1]!);
      for (const m of src.matchAll(/prefix:\s*'(deepintshield_[a-z0-9_]+_)'/g)) prefixes.push(m[1]!);
    }
    return { names, prefixes };
  }

  it('is a Grafana dashboard whose every query uses metrics the code defines', () => {
    expect(dash.title).toBeTruthy();
    expect(Array.isArray(dash.panels)).toBe(true);
    const { names, prefixes } = definedMetrics();
    const exprs: string[] = dash.panels.flatMap((p: Obj) => (p.targets ?? []).map((t: Obj) => t.expr));
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/deepintshield_[a-z0-9_]+/g)].map((m) => m[0])));
    for (const prefix of [
      'deepintshield_http_',
      'deepintshield_gossip_',
      'deepintshield_discovery_',
      'deepintshield_governance_',
      'deepintshield_store_',
    ])
      expect(
        [...used].some((u) => u.startsWith(prefix)),
        prefix,
      ).toBe(true);
    for (const u of used) {
      const base = u.replace(/_(bucket|sum|count)$/, '');
      expect(
        names.has(u) || names.has(base) || prefixes.some((p) => u.startsWith(p)),
        `${u} is not defined in src/`,
      ).toBe(true);
    }
  });
});
