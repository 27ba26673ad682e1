import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { FakeConsul } from '../../fakes/consul.js';
import { FakeKubernetes } from '../../fakes/kubernetes.js';
import { TestNetwork } from '../../support/netns.js';
import { NodeProcess } from '../../support/node-process.js';
import { freePort, freePorts } from '../../support/ports.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { ServerProcess } from './helpers.js';

/**
 * Every discovery method, end to end with real node processes: 5 nodes
 * started at the same moment, no peer list, find each other through the
 * backend and form ONE cluster that every node reports HEALTHY (so no split
 * brain at bootstrap, and more than the 3-node cluster the method must form).
 */
const N = 5;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
});

interface NodeSpec {
  ip: string;
  gossipPort: number;
  httpPort: number;
  netns?: string;
}

async function formCluster(
  specs: NodeSpec[],
  discovery: (i: number) => Record<string, unknown>,
  env: Record<string, string> = {},
) {
  const nodes = specs.map(
    (s, i) =>
      new NodeProcess({
        netns: s.netns,
        httpHost: s.ip,
        env,
        config: {
          server: {
            host: s.netns ? '0.0.0.0' : s.ip,
            port: s.httpPort,
            drain_accept_seconds: 0,
            drain_timeout_seconds: 5,
          },
          cluster_config: {
            enabled: true,
            node_name: `d${i + 1}`,
            bind_address: s.ip,
            discovery: { enabled: true, interval: '1s', dial_timeout: '2s', ...discovery(i) },
            gossip: {
              port: s.gossipPort,
              config: {
                timeout_seconds: 1,
                interval_seconds: 0.5,
                success_threshold: 1,
                failure_threshold: 2,
              },
            },
          },
        },
      }),
  );
  cleanups.push(() => Promise.all(nodes.map((n) => n.destroy())));
  for (const n of nodes) n.start(); // all at once
  await Promise.all(nodes.map((n) => n.waitReady(30_000)));
  const started = Date.now();
  await waitFor(
    async () => {
      const all = await Promise.all(nodes.map((n) => n.status()));
      return all.every((s) => s.members === N && s.healthy_members === N && s.cluster_health === 'HEALTHY');
    },
    { timeoutMs: 45_000, intervalMs: 250, what: `one cluster of ${N} HEALTHY nodes` },
  ).catch(async (err) => {
    const views = await Promise.all(
      nodes.map((n) =>
        n
          .status()
          .then((s) => `${s.local_node}: ${s.nodes.map((x) => `${x.name}=${x.state}`).join(',')}`)
          .catch(() => 'down'),
      ),
    );
    throw new Error(`${err.message}\n${views.join('\n')}\n${nodes[0]!.rawOutput.slice(-15).join('\n')}`);
  });
  // Nobody had a peer list: the cluster came from discovery ("discovered X nodes" on the nodes that joined first).
  await Promise.any(nodes.map((n) => n.waitForLog(/discovered \d+ nodes/, 2000)));
  await Promise.all(nodes.map((n) => n.destroy()));
  return Date.now() - started;
}

const loopbackSpecs = async (): Promise<NodeSpec[]> => {
  const ports = await freePorts(2 * N);
  return Array.from({ length: N }, (_, i) => ({
    ip: '127.0.0.1',
    gossipPort: ports[i]!,
    httpPort: ports[N + i]!,
  }));
};
/** Distinct loopback addresses with one shared gossip port, as pods or hosts would have. */
const loopbackHosts = async (): Promise<NodeSpec[]> => {
  const [gossip, ...http] = await freePorts(N + 1);
  return Array.from({ length: N }, (_, i) => ({
    ip: `127.0.${Math.floor(Math.random() * 200) + 20}.${i + 11}`,
    gossipPort: gossip!,
    httpPort: http[i]!,
  })).map((s, _, all) => ({
    ...s,
    ip: `${all[0]!.ip.split('.').slice(0, 3).join('.')}.${s.ip.split('.')[3]}`,
  }));
};

describe('discovery forms one cluster from 5 nodes started at once', () => {
  it('etcd (real etcd server)', async () => {
    requireBinary('etcd');
    const dir = mkdtempSync(join(tmpdir(), 'dis-etcd-'));
    const [client, peer] = await freePorts(2);
    const url = `http://127.0.0.1:${client}`;
    const etcd = new ServerProcess('etcd', [
      '--name',
      'e1',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `e1=http://127.0.0.1:${peer}`,
    ]).start();
    cleanups.push(async () => {
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await waitFor(async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 15_000, what: 'etcd' });
    const ms = await formCluster(await loopbackSpecs(), () => ({ type: 'etcd', etcd_endpoints: [url] }));
    console.log(`etcd: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);

  it('dns (real dnsmasq, SRV records)', async () => {
    requireBinary('dnsmasq');
    const dir = mkdtempSync(join(tmpdir(), 'dis-dnsq-'));
    mkdirSync(join(dir, 'hosts.d'));
    const specs = await loopbackSpecs();
    const port = await freePort();
    const dns = new ServerProcess('dnsmasq', [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--local=/test/',
      '--local-ttl=1',
      '--host-record=gw.cluster.test,127.0.0.1',
      ...specs.map((s) => `--srv-host=_gossip._udp.cluster.test,gw.cluster.test,${s.gossipPort}`),
      `--hostsdir=${join(dir, 'hosts.d')}`,
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    ]).start();
    cleanups.push(async () => {
      await dns.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(dir, 'hosts.d', 'x'), '');
    const ms = await formCluster(specs, () => ({
      type: 'dns',
      dns_names: ['_gossip._udp.cluster.test'],
      dns_servers: [`127.0.0.1:${port}`],
    }));
    console.log(`dns: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);

  it('consul (contract fake of the agent API)', async () => {
    const consul = new FakeConsul();
    const port = await consul.start();
    cleanups.push(() => consul.stop());
    const ms = await formCluster(await loopbackSpecs(), () => ({
      type: 'consul',
      consul_address: `127.0.0.1:${port}`,
    }));
    console.log(`consul: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);

  it('kubernetes (contract fake of the pods API, list + watch)', async () => {
    const kube = new FakeKubernetes();
    await kube.start();
    cleanups.push(() => kube.stop());
    const specs = await loopbackHosts();
    for (const [i, s] of specs.entries())
      kube.upsertPod({
        name: `deepintshield-${i}`,
        namespace: 'gw',
        labels: { 'app.kubernetes.io/name': 'deepintshield' },
        ip: s.ip,
        phase: 'Running',
        ready: true,
      });

    const kubeconfig = kube.writeKubeconfig({ namespace: 'gw', insecure: true });
    const ms = await formCluster(
      specs,
      () => ({
        type: 'kubernetes',
        k8s_namespace: 'gw',
        k8s_label_selector: 'app.kubernetes.io/name=deepintshield',
      }),
      { KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '' },
    );
    console.log(`kubernetes: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);

  it('mdns (multicast on loopback only)', async () => {
    const ms = await formCluster(await loopbackHosts(), () => ({
      type: 'mdns',
      mdns_service: '_dis-test._tcp',
      mdns_interface: '127.0.0.1',
    }));
    console.log(`mdns: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);

  it('udp broadcast (hosts in network namespaces on a bridge)', async () => {
    const net = new TestNetwork(84).create(N);
    cleanups.push(() => net.destroy());
    net.attachRoot();
    const specs = net.hosts.map((h) => ({ ip: h.ip, gossipPort: 10101, httpPort: 8080, netns: h.ns }));
    const ms = await formCluster(specs, () => ({
      type: 'udp',
      udp_broadcast_port: 10199,
      allowed_address_space: [`${net.prefix}.0/24`],
    }));
    console.log(`udp: ${N} nodes HEALTHY ${ms} ms after ready`);
  }, 120_000);
});
