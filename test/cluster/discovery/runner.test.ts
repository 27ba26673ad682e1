import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../../src/cluster/cluster.js';
import {
  AddressFilter,
  AddressSpace,
  compareAddresses,
  parseHostPort,
} from '../../../src/cluster/discovery/address.js';
import { createDiscoveryMethod, DiscoveryRunner } from '../../../src/cluster/discovery/runner.js';
import type { DiscoveryMethod } from '../../../src/cluster/discovery/types.js';
import { UdpDiscovery } from '../../../src/cluster/discovery/udp.js';
import { clusterSchema } from '../../../src/config/schema.js';
import { freePort, freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { FAST } from '../membership/helpers.js';
import { captureLogger, fakeRunner, makeCtx } from './helpers.js';

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => {});
});

/** A method whose answers the test scripts. */
class ScriptedMethod implements DiscoveryMethod {
  readonly type = 'dns' as const;
  answer: string[] | Error = [];
  calls = 0;
  stopped?: boolean;
  private cb?: () => void;
  async start() {}
  async discover() {
    this.calls++;
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
  onChange(cb: () => void) {
    this.cb = cb;
  }
  fire() {
    this.cb?.();
  }
  async stop(graceful: boolean) {
    this.stopped = graceful;
  }
}

describe('addresses', () => {
  it('parses, orders and checks allowed_address_space for IPv4 and IPv6', () => {
    expect(parseHostPort('10.0.0.1:10101')).toEqual({ host: '10.0.0.1', port: 10101 });
    expect(parseHostPort('[fd00::1]:7946')).toEqual({ host: 'fd00::1', port: 7946 });
    expect(parseHostPort('[::ffff:10.0.0.1]:1')).toEqual({ host: '10.0.0.1', port: 1 });
    for (const bad of [
      'host.example:1',
      '10.0.0.1',
      '10.0.0.1:0',
      '10.0.0.1:70000',
      '10.1:5',
      'fd00::1:5',
      '',
    ])
      expect(parseHostPort(bad)).toBeNull();
    const space = new AddressSpace(['10.0.0.0/8', 'fd00::/8']);
    expect([
      space.allows('10.2.3.4'),
      space.allows('192.168.1.1'),
      space.allows('fd00::5'),
      space.allows('fe80::1'),
    ]).toEqual([true, false, true, false]);
    expect(['10.0.0.10:1', '10.0.0.9:2', '10.0.0.9:1'].sort(compareAddresses)).toEqual([
      '10.0.0.9:1',
      '10.0.0.9:2',
      '10.0.0.10:1',
    ]);
    const log = captureLogger();
    const f = new AddressFilter(['10.0.0.0/8'], ['10.0.0.1:10101'], log.logger);
    const raw = [
      '10.0.0.3:10101',
      '10.0.0.1:10101',
      '192.168.0.1:10101',
      'nonsense',
      '10.0.0.2:10101',
      '10.0.0.2:10101',
    ];
    expect(f.filter(raw)).toEqual(['10.0.0.2:10101', '10.0.0.3:10101']);
    f.filter(raw);
    expect(log.count('not in allowed address space')).toBe(1);
    expect(log.count('skipping invalid host address')).toBe(1);
  });
});

describe('DiscoveryRunner', () => {
  it('joins only non-members, logs the phrases, retries failures with backoff, and never tears down', async () => {
    const m = new ScriptedMethod();
    m.answer = ['127.0.0.1:20001', '127.0.0.1:20002', '127.0.0.1:30000'];
    const { ctx, log } = makeCtx(
      { type: 'dns', dns_names: ['x'], interval: '300ms', dial_timeout: '1s' },
      { name: 'me', port: 30000 },
    );
    const r = fakeRunner(ctx, m);
    stops.push(() => r.runner.stop(true));
    await r.runner.start();
    expect(r.joins).toEqual([['127.0.0.1:20001', '127.0.0.1:20002']]); // own address filtered out
    expect(log.has('discovered 2 nodes')).toBe(true);
    await waitFor(() => m.calls >= 2, { timeoutMs: 2000 });
    expect(log.has('no new nodes discovered')).toBe(true);
    expect(r.joins).toHaveLength(1);

    m.answer = new Error('backend down');
    await waitFor(() => log.count('discovery failed') >= 2, { timeoutMs: 4000 });
    const fail = log.lines.find((l) => l.msg === 'discovery failed')!;
    expect(fail.err).toBe('backend down');
    expect(r.runner.lastPeers()).toEqual(['127.0.0.1:20001', '127.0.0.1:20002']); // last good answer kept
    expect(r.members.size).toBe(2);

    m.answer = ['127.0.0.1:20001', '127.0.0.1:20002', '127.0.0.1:20003'];
    await waitFor(() => r.members.has('127.0.0.1:20003'), { timeoutMs: 4000 });
    expect(log.has('discovered 1 nodes')).toBe(true);

    const metrics = await ctx.registry.metrics();
    expect(metrics).toMatch(/deepintshield_discovery_rounds_total\{method="dns"\} \d+/);
    expect(metrics).toMatch(/deepintshield_discovery_failures_total\{method="dns"\} [1-9]/);
    expect(metrics).toMatch(/deepintshield_discovery_peers_discovered\{method="dns"\} 3/);
    expect(metrics).toMatch(/deepintshield_discovery_last_success_timestamp_seconds\{method="dns"\} \d/);
    await r.runner.stop(true);
    expect(m.stopped).toBe(true);
  });

  it('a watch event starts an early round; a hung backend is cut off by dial_timeout', async () => {
    const m = new ScriptedMethod();
    const { ctx, log } = makeCtx(
      { type: 'dns', dns_names: ['x'], interval: '1h', dial_timeout: '300ms' },
      { name: 'me', port: 30000 },
    );
    const r = fakeRunner(ctx, m);
    stops.push(() => r.runner.stop(false));
    await r.runner.start();
    m.answer = ['127.0.0.1:20009'];
    m.fire();
    await waitFor(() => r.members.has('127.0.0.1:20009'), { timeoutMs: 2000, what: 'event-driven round' });
    m.discover = () => new Promise(() => {});
    const t0 = Date.now();
    m.fire();
    await log.waitFor('discovery failed', 3000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(String(log.lines.find((l) => l.msg === 'discovery failed')?.err)).toMatch(/timed out/);
  });

  it('the factory builds each method by config.type', () => {
    const base = { name: 'n', port: 1 };
    const cfgs: Record<string, Record<string, unknown>> = {
      kubernetes: { k8s_label_selector: 'a=b' },
      consul: {},
      etcd: { etcd_endpoints: ['http://127.0.0.1:1'] },
      dns: { dns_names: ['a.test'] },
      udp: {
        udp_broadcast_port: 9,
        allowed_address_space: ['127.0.0.0/8'],
        udp_broadcast_address: '127.255.255.255',
      },
      mdns: { mdns_interface: '127.0.0.1' },
    };
    for (const [type, extra] of Object.entries(cfgs)) {
      const { ctx } = makeCtx({ type, ...extra }, base);
      const m = createDiscoveryMethod(ctx);
      expect(m.type).toBe(type);
      void m.stop(false);
    }
  });
});

describe('bootstrap without split brain (real gossip, in-process)', () => {
  it('5 nodes started at the same moment, all discovering each other over UDP, form ONE cluster', async () => {
    const bcast = await freePort();
    const gossip = await freePorts(5);
    const http = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    stops.push(() => new Promise((r) => (http as Server).close(r)));
    const nodes = gossip.map((port, i) => {
      const log = captureLogger(`b${i}`);
      const config = clusterSchema.parse({
        enabled: true,
        node_name: `boot-${i}`,
        bind_address: '127.0.0.1',
        gossip: {
          port,
          config: { timeout_seconds: 1, success_threshold: 1, failure_threshold: 2, interval_seconds: 0.2 },
        },
      });
      const cluster = new Cluster({
        config,
        httpAddress: `127.0.0.1:${(http.address() as { port: number }).port}`,
        version: 't',
        logger: log.logger,
        timings: FAST,
      });
      const { ctx } = makeCtx(
        {
          type: 'udp',
          udp_broadcast_port: bcast,
          udp_broadcast_address: '127.255.255.255',
          allowed_address_space: ['127.0.0.0/8'],
          interval: '1s',
          dial_timeout: '2s',
        },
        { name: `boot-${i}`, port },
      );
      const runner = new DiscoveryRunner({
        ...ctx,
        method: new UdpDiscovery(ctx),
        join: (addrs) => cluster.join(addrs),
        isMember: (a) =>
          cluster.members().some((m) => m.address === a && (m.state === 'alive' || m.state === 'suspect')),
      });
      stops.push(() => cluster.shutdown());
      stops.push(() => runner.stop(true));
      return { cluster, runner };
    });
    await Promise.all(nodes.map((n) => n.cluster.start()));
    await Promise.all(nodes.map((n) => n.runner.start()));
    await waitFor(() => nodes.every((n) => n.cluster.status().members === 5), {
      timeoutMs: 15_000,
      what: `one cluster of 5 (have ${nodes.map((n) => n.cluster.status().members)})`,
    });
    const views = nodes.map((n) =>
      n.cluster
        .status()
        .nodes.map((x) => x.name)
        .join(','),
    );
    expect(new Set(views).size).toBe(1);
  });
});
