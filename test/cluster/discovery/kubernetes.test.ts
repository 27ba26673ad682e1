import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesDiscovery } from '../../../src/cluster/discovery/kubernetes.js';
import { FakeKubernetes } from '../../fakes/kubernetes.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx } from './helpers.js';

const fake = new FakeKubernetes();
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  requireBinary('openssl');
  await fake.start();
  fake.upsertPod({ name: 'gw-0', namespace: 'gw', labels: { app: 'gw' }, ip: '10.1.0.10' });
  fake.upsertPod({ name: 'gw-1', namespace: 'gw', labels: { app: 'gw' }, ip: '10.1.0.11' });
  fake.upsertPod({ name: 'gw-2', namespace: 'gw', labels: { app: 'gw' }, ip: '10.1.0.12' });
  fake.upsertPod({ name: 'gw-pending', namespace: 'gw', labels: { app: 'gw' }, phase: 'Pending' });
  fake.upsertPod({
    name: 'gw-notready',
    namespace: 'gw',
    labels: { app: 'gw' },
    ip: '10.1.0.19',
    ready: false,
  });
  fake.upsertPod({ name: 'other', namespace: 'gw', labels: { app: 'db' }, ip: '10.1.0.50' });
});

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  await fake.stop();
});

describe('Kubernetes fake answers what @kubernetes/client-node expects', () => {
  it('listNamespacedPod and Watch (CA-verified TLS and insecure-skip-tls-verify)', async () => {
    for (const insecure of [false, true]) {
      const kc = new KubeConfig();
      kc.loadFromFile(fake.writeKubeconfig({ insecure }));
      const api = kc.makeApiClient(CoreV1Api);
      const list = await api.listNamespacedPod({ namespace: 'gw', labelSelector: 'app=gw' });
      expect(list.items.map((p) => p.metadata?.name).sort()).toEqual([
        'gw-0',
        'gw-1',
        'gw-2',
        'gw-notready',
        'gw-pending',
      ]);
      expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
      expect(list.items[0]!.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

      const events: string[] = [];
      const ac = await new Watch(kc).watch(
        '/api/v1/namespaces/gw/pods',
        { labelSelector: 'app=gw', resourceVersion: list.metadata!.resourceVersion },
        (type, obj) => events.push(`${type}:${obj.metadata.name}`),
        () => {},
      );
      fake.upsertPod({ name: `w-${insecure}`, namespace: 'gw', labels: { app: 'gw' }, ip: '10.1.0.99' });
      fake.deletePod(`w-${insecure}`, 'gw');
      await waitFor(() => events.length === 2, { timeoutMs: 3000, what: 'watch events' });
      expect(events).toEqual([`ADDED:w-${insecure}`, `DELETED:w-${insecure}`]);
      ac.abort();
    }
    fake.forbidden.add('locked');
    const kc = new KubeConfig();
    kc.loadFromFile(fake.writeKubeconfig());
    const err = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: 'locked' })
      .catch((e) => e);
    expect(err.code).toBe(403);
    expect(JSON.parse(err.body).reason).toBe('Forbidden');
  });
});

describe('kubernetes discovery (against the fake)', () => {
  function node(
    i: number,
    over: Record<string, unknown> = {},
    opts: { kubeconfig?: string; rootPrefix?: string } = {},
  ) {
    const { ctx, log } = makeCtx(
      { type: 'kubernetes', k8s_label_selector: 'app=gw', dial_timeout: '2s', interval: '30s', ...over },
      { name: `gw-${i}`, ip: `10.1.0.${10 + i}`, port: 7946 },
    );
    const kc = new KubeConfig();
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    const method = new KubernetesDiscovery(ctx, {
      kubeConfig: opts.kubeconfig ? kc : undefined,
      rootPrefix: opts.rootPrefix,
    });
    const r = fakeRunner(ctx, method);
    cleanups.push(() => r.runner.stop(false));
    return { ...r, ctx, log };
  }

  it('3 pods find each other (Running + Ready only) and the watch reports new pods at once', async () => {
    const kubeconfig = fake.writeKubeconfig();
    const nodes = [0, 1, 2].map((i) => node(i, { k8s_namespace: 'gw' }, { kubeconfig }));
    await Promise.all(nodes.map((n) => n.runner.start()));
    expect(nodes[0]!.runner.lastPeers()).toEqual(['10.1.0.11:7946', '10.1.0.12:7946']);
    expect(nodes[2]!.runner.lastPeers()).toEqual(['10.1.0.10:7946', '10.1.0.11:7946']);
    // the not-ready pod becomes ready: the watch triggers a round long before the 30 s interval
    await waitFor(() => fake.requests.some((r) => r.query.includes('watch=true')), { timeoutMs: 3000 });
    fake.upsertPod({
      name: 'gw-notready',
      namespace: 'gw',
      labels: { app: 'gw' },
      ip: '10.1.0.19',
      ready: true,
    });
    for (const n of nodes)
      await waitFor(() => n.runner.lastPeers().includes('10.1.0.19:7946'), {
        timeoutMs: 5000,
        what: 'watch-driven round',
      });
    fake.deletePod('gw-notready', 'gw');
    await waitFor(() => !nodes[0]!.runner.lastPeers().includes('10.1.0.19:7946'), { timeoutMs: 5000 });
  });

  it('in-cluster config: namespace from the service account, CA-verified TLS, bind_port', async () => {
    const root = fake.writeServiceAccount('gw');
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = String(fake.port);
    try {
      const n = node(5, { bind_port: 10101 }, { rootPrefix: root });
      await n.runner.start();
      expect(n.runner.lastPeers()).toEqual(['10.1.0.10:10101', '10.1.0.11:10101', '10.1.0.12:10101']);
    } finally {
      delete process.env.KUBERNETES_SERVICE_HOST;
      delete process.env.KUBERNETES_SERVICE_PORT;
    }
  });

  it('KUBECONFIG from the environment; "error getting kubernetes config" when there is none', async () => {
    process.env.KUBECONFIG = fake.writeKubeconfig({ namespace: 'gw' });
    try {
      const n = node(6, { k8s_namespace: 'gw' });
      await n.runner.start();
      expect(n.runner.lastPeers()).toHaveLength(3);
      process.env.KUBECONFIG = '/nonexistent/kubeconfig';
      const m = node(7);
      await m.runner.start();
      expect(m.log.has('error getting kubernetes config')).toBe(true);
      expect(m.log.has('discovery failed')).toBe(true);
    } finally {
      delete process.env.KUBECONFIG;
    }
  });

  it('403 names the missing RBAC permission', async () => {
    fake.forbidden.add('locked');
    const n = node(8, { k8s_namespace: 'locked' }, { kubeconfig: fake.writeKubeconfig() });
    await n.runner.start();
    const line = n.log.lines.find((l) => l.msg.includes('list pods in namespace locked'));
    expect(line).toBeTruthy();
    expect(n.log.has('discovery failed')).toBe(true);
  });
});
