import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { requireBinary } from '../support/system.js';
import { HelmRenderer } from './helm-render.js';
import { k8sSchemaProblems } from './k8s-schema.js';

const REPO = resolve(import.meta.dirname, '../..');
const K8S = join(REPO, 'deploy/kubernetes');
const CHART = join(REPO, 'deploy/helm/deepintshield');
const COMPOSE = join(REPO, 'deploy/compose');
const SETUPS = ['consul', 'etcd', 'postgres'];

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of any shape
type Obj = Record<string, any>;
const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter((d) => d != null);
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  DEEPINTSHIELD_ADMIN_TOKEN: 'admin-token-0123456789',
  OPENAI_API_KEY: '',
  POD_IP: '10.1.2.3',
  GOSSIP_KEY: Buffer.alloc(32, 7).toString('base64'),
  POSTGRES_PASSWORD: 'pw',
  ...extra,
});

const staticFiles = [
  ...readdirSync(K8S)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(K8S, f)),
  ...readdirSync(join(K8S, 'deployment-variant')).map((f) => join(K8S, 'deployment-variant', f)),
];

const VALUE_SETS: [string, Record<string, unknown>][] = [
  ['defaults', {}],
  [
    'deployment + postgres',
    { statefulset: { enabled: false }, configStore: { postgres: { enabled: true } } },
  ],
  [
    'virtual keys and a provider from values, their secrets from a Secret',
    {
      providers: {
        mock: null, // Helm merges maps with the defaults: null removes one
        openai: { keys: [{ name: 'primary', value: 'env.OPENAI_API_KEY', models: ['gpt-4o-mini'] }] },
        groq: {
          type: 'openai',
          keys: [{ value: 'env.GROQ_API_KEY' }],
          network_config: { base_url: 'https://api.groq.com/openai/v1' },
        },
      },
      virtualKeys: [{ id: 'team-a', value: 'env.TEAM_A_KEY', allowed_models: ['openai/gpt-4o-mini'] }],
      enforceVirtualKeys: true,
      extraEnv: [
        { name: 'TEAM_A_KEY', valueFrom: { secretKeyRef: { name: 'team-keys', key: 'team-a' } } },
        { name: 'GROQ_API_KEY', valueFrom: { secretKeyRef: { name: 'team-keys', key: 'groq' } } },
      ],
      statefulset: { storageClassName: 'fast' },
    },
  ],
  ['gossip encryption off', { gossip: { encryption: false } }],
];

describe('Kubernetes manifests and the Helm chart against the Kubernetes OpenAPI schemas', () => {
  it.each(staticFiles.map((f) => [f.slice(REPO.length + 1), f]))('%s', (_name, f) => {
    for (const o of docs(readFileSync(f, 'utf8')))
      expect(k8sSchemaProblems(o), `${o.kind}/${o.metadata?.name}`).toEqual([]);
  });

  it('a wrong field type is caught (the validator is live)', () => {
    expect(
      k8sSchemaProblems({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'x' },
        spec: { ports: [{ port: '80' }] },
      }),
    ).not.toEqual([]);
  });

  it('an unknown or misplaced field is caught (strict field validation)', () => {
    const problems = k8sSchemaProblems({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        selector: { matchLabels: { app: 'x' } },
        template: {
          metadata: { labels: { app: 'x' } },
          spec: { containers: [{ name: 'x', image: 'x', resource: { limits: { cpu: '1' } } }] },
        },
      },
    });
    expect(problems).toEqual(['unknown field spec.template.spec.containers[0].resource (V1Container)']);
  });

  it.each(VALUE_SETS)('chart rendered with %s', (_name, values) => {
    const helm = new HelmRenderer(CHART);
    let objects = 0;
    for (const [f, text] of helm.render('rel', values))
      for (const o of docs(text)) {
        objects++;
        expect(k8sSchemaProblems(o), `${f}: ${o.kind}/${o.metadata?.name}`).toEqual([]);
      }
    expect(objects).toBeGreaterThanOrEqual(7);
  });

  it('providers and virtual keys come from values, their secrets from a Secret; gossip key from the Secret', () => {
    const helm = new HelmRenderer(CHART);
    const [, values] = VALUE_SETS[2]!;
    const out = [...helm.render('rel', values).values()].flatMap(docs);
    const cm = out.find((o) => o.kind === 'ConfigMap')!;
    const sts = out.find((o) => o.kind === 'StatefulSet')!;
    const container = sts.spec.template.spec.containers[0];
    const envNames = container.env.map((e: Obj) => e.name);
    expect(envNames).toEqual(
      expect.arrayContaining(['GOSSIP_KEY', 'TEAM_A_KEY', 'GROQ_API_KEY', 'OPENAI_API_KEY']),
    );
    const gossipEnv = container.env.find((e: Obj) => e.name === 'GOSSIP_KEY');
    expect(gossipEnv.valueFrom.secretKeyRef).toEqual({ name: 'deepintshield-secrets', key: 'gossip-key' });
    const cfg = parseConfigText(
      cm.data['config.json'],
      'rendered',
      env({ TEAM_A_KEY: 'sk-team-a-0123456789', GROQ_API_KEY: 'gsk' }),
    );
    expect(Object.keys(cfg.providers).sort()).toEqual(['groq', 'openai']);
    expect(cfg.governance).toMatchObject({
      enforce_virtual_keys: true,
      virtual_keys: [{ id: 'team-a', value: 'sk-team-a-0123456789' }],
    });
    expect(cfg.cluster_config.gossip.encryption_key).toBe(env().GOSSIP_KEY);
    // nothing secret is written into the chart's output
    expect(cm.data['config.json']).not.toMatch(/sk-|gsk/);
    const off = [...helm.render('rel', VALUE_SETS[3]![1]).values()].flatMap(docs);
    const offCfg = parseConfigText(
      off.find((o) => o.kind === 'ConfigMap')!.data['config.json'],
      'off',
      env(),
    );
    expect(offCfg.cluster_config.gossip.encryption_key).toBeUndefined();
  });

  it('no manifest names an image that is not published; the docs say how to build and push it', () => {
    const texts = [
      ...staticFiles.map((f) => readFileSync(f, 'utf8')),
      readFileSync(join(CHART, 'values.yaml'), 'utf8'),
    ];
    for (const t of texts)
      expect(t).not.toMatch(/ghcr\.io|docker\.io\/deepintshield|quay\.io\/deepintshield/);
    for (const f of staticFiles)
      for (const o of docs(readFileSync(f, 'utf8')))
        for (const c of o.spec?.template?.spec?.containers ?? []) expect(c.image).toBe('deepintshield:0.1.0');
    const ops = readFileSync(join(REPO, 'docs/operations.md'), 'utf8');
    expect(ops).toMatch(/docker build -t \S+deepintshield:0\.1\.0 \./);
    expect(ops).toMatch(/docker push /);
    expect(ops).toMatch(/image\.repository/);
  });

  it('publishNotReadyAddresses is what the docs say it is, for the reason they give', () => {
    const svc = docs(readFileSync(join(K8S, '02-services.yaml'), 'utf8')).find(
      (o) => o.spec?.clusterIP === 'None',
    )!;
    expect(svc.spec.publishNotReadyAddresses).toBe(true);
    for (const doc of ['docs/operations.md', 'docs/discovery.md']) {
      const text = readFileSync(join(REPO, doc), 'utf8');
      expect(text, doc).toMatch(/`publishNotReadyAddresses: true`/);
      expect(text, doc).not.toMatch(/publishNotReadyAddresses` is not needed/);
    }
  });
});

describe('compose set-ups, validated by docker-compose', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const envExample = readFileSync(join(COMPOSE, 'env.example'), 'utf8');

  it.each(SETUPS)('%s: `docker-compose config` accepts it with env.example as .env', (setup) => {
    const bin = requireBinary('docker-compose');
    // a copy, so that the test writes no .env into the repository
    const dir = mkdtempSync(join(tmpdir(), 'dis-compose-'));
    dirs.push(dir);
    cpSync(join(COMPOSE, setup), join(dir, setup), { recursive: true });
    cpSync(join(COMPOSE, 'env.example'), join(dir, setup, '.env'));
    cpSync(join(COMPOSE, 'nginx.conf'), join(dir, 'nginx.conf'));
    const out = execFileSync(bin, ['config'], {
      cwd: join(dir, setup),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const resolved = docs(out)[0]!;
    expect(resolved.services.node1.environment.GOSSIP_KEY).toBeTruthy();
    expect(
      execFileSync(bin, ['config', '-q'], {
        cwd: join(dir, setup),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).toBe('');
  });

  it.each(SETUPS)(
    '%s: builds from the Dockerfile, no top-level name, every variable in env.example, openai via OPENAI_API_KEY',
    (setup) => {
      const text = readFileSync(join(COMPOSE, setup, 'docker-compose.yml'), 'utf8');
      const compose = docs(text)[0]!;
      expect(compose.name).toBeUndefined();
      for (const v of text.replace(/^\s*#.*$/gm, '').matchAll(/\$\{([A-Z0-9_]+)/g))
        expect(envExample).toMatch(new RegExp(`^${v[1]}=`, 'm'));
      for (const n of ['node1', 'node2', 'node3']) {
        const svc = { ...compose['x-node'], ...compose.services[n] };
        const context = resolve(join(COMPOSE, setup), svc.build.context);
        expect(context).toBe(REPO);
        expect(existsSync(join(context, svc.build.dockerfile ?? 'Dockerfile'))).toBe(true);
        const cfg = parseConfigText(
          readFileSync(join(COMPOSE, setup, `${n}.json`), 'utf8'),
          n,
          env({ DEMO_VIRTUAL_KEY: 'sk-demo-0123456789' }),
        );
        expect(cfg.providers.openai?.keys[0]?.value).toBe('');
        const withKey = parseConfigText(
          readFileSync(join(COMPOSE, setup, `${n}.json`), 'utf8'),
          n,
          env({ DEMO_VIRTUAL_KEY: 'sk-demo-0123456789', OPENAI_API_KEY: 'sk-live' }),
        );
        expect(withKey.providers.openai?.keys[0]?.value).toBe('sk-live');
        expect(withKey.cluster_config.gossip.encryption_key).toBeTruthy();
      }
      if (setup === 'postgres') {
        expect(compose['x-node'].depends_on.postgres).toEqual({ condition: 'service_healthy' });
        expect(compose.services.postgres.healthcheck.test).toContain('pg_isready');
      }
    },
  );
});

describe("deploy/local: the README's three nodes on one machine", () => {
  const LOCAL = join(REPO, 'deploy/local');
  const configs = [1, 2, 3].map((i) =>
    parseConfigText(readFileSync(join(LOCAL, `node${i}.json`), 'utf8'), `node${i}`, {}),
  );

  it('pass the real validator, use distinct ports and files, and seed each other', () => {
    const gossip = configs.map((c) => c.cluster_config.gossip.port);
    expect(new Set(configs.map((c) => c.server.port)).size).toBe(3);
    expect(new Set(gossip).size).toBe(3);
    expect(
      new Set(configs.map((c) => (c.config_store.type === 'sqlite' ? c.config_store.config.path : ''))).size,
    ).toBe(3);
    configs.forEach((c, i) => {
      expect(c.cluster_config.enabled).toBe(true);
      expect(c.cluster_config.peers.sort()).toEqual(
        gossip
          .filter((_, j) => j !== i)
          .map((p) => `127.0.0.1:${p}`)
          .sort(),
      );
    });
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const i of [1, 2, 3])
      expect(readme).toContain(`npx deepintshield --config deploy/local/node${i}.json`);
    // the README opens with exactly the two commands, and says what a fresh machine needs for them
    expect(readme.split('```sh\n')[1]!.split('```')[0]).toBe('npm install && npm start\nnpm test\n');
    expect(readme).toMatch(/python3 make g\+\+/);
  });
});
