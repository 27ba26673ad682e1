import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsDiscovery } from '../../../src/cluster/discovery/dns.js';
import { freePort } from '../../support/ports.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx, ServerProcess } from './helpers.js';

let dnsmasq: ServerProcess;
let dir: string;
let server: string;
const cleanups: Array<() => Promise<unknown>> = [];

function node(name: string, ip: string, over: Record<string, unknown> = {}) {
  const { ctx, log } = makeCtx(
    {
      type: 'dns',
      dns_names: ['nodes.cluster.test', '_gossip._udp.cluster.test'],
      dns_servers: [server],
      bind_port: 10101,
      dial_timeout: '2s',
      interval: '1s',
      ...over,
    },
    { name, ip, port: 10101 },
  );
  const r = fakeRunner(ctx, new DnsDiscovery(ctx));
  cleanups.push(() => r.runner.stop(false));
  return { ...r, ctx, log };
}

describe('dns discovery (real dnsmasq)', () => {
  beforeAll(async () => {
    requireBinary('dnsmasq');
    dir = mkdtempSync(join(tmpdir(), 'dis-dns-'));
    const hostsDir = join(dir, 'hosts.d');
    mkdirSync(hostsDir);
    writeFileSync(join(hostsDir, 'nodes'), '127.0.0.11 nodes.cluster.test\n127.0.0.12 nodes.cluster.test\n');
    const port = await freePort();
    server = `127.0.0.1:${port}`;
    dnsmasq = new ServerProcess('dnsmasq', [
      '--no-daemon',
      '--no-resolv',
      '--no-hosts',
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--local=/test/',
      '--local-ttl=1',
      '--host-record=srv1.cluster.test,127.0.0.21',
      '--srv-host=_gossip._udp.cluster.test,srv1.cluster.test,20202',
      `--hostsdir=${hostsDir}`,
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
    ]).start();
    const probe = node('probe', '127.0.0.99');
    await waitFor(async () => (await probe.runner.method.discover(AbortSignal.timeout(1000))).length > 0, {
      timeoutMs: 10_000,
      what: 'dnsmasq answering',
    });
  });

  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
    await dnsmasq?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves A records (+bind_port) and SRV records (target + port), minus ourselves', async () => {
    const a = node('a', '127.0.0.11');
    await a.runner.start();
    expect(a.runner.lastPeers()).toEqual(['127.0.0.12:10101', '127.0.0.21:20202']);
    expect(a.members.has('127.0.0.21:20202')).toBe(true);
    expect(a.log.has('discovered 2 nodes')).toBe(true);
  });

  it('picks up records changed at run time', async () => {
    const a = node('b', '127.0.0.11');
    await a.runner.start();
    writeFileSync(
      join(dir, 'hosts.d', 'nodes'),
      '127.0.0.11 nodes.cluster.test\n127.0.0.12 nodes.cluster.test\n127.0.0.13 nodes.cluster.test\n',
    );
    await waitFor(() => a.runner.lastPeers().includes('127.0.0.13:10101'), {
      timeoutMs: 10_000,
      what: 'new A record found',
    });
    await a.log.waitFor('discovered 1 nodes', 5000);
  });

  it('logs "dns lookup error" with the name for an unknown name, and filters by allowed_address_space', async () => {
    const a = node('c', '127.0.0.11', {
      dns_names: ['missing.cluster.test', 'nodes.cluster.test'],
      allowed_address_space: ['127.0.0.12/32', 'fd00::/8'],
    });
    await a.runner.start();
    const err = a.log.lines.find((l) => l.msg === 'dns lookup error');
    expect(err?.name).toBe('missing.cluster.test');
    expect(a.runner.lastPeers()).toEqual(['127.0.0.12:10101']);
    expect(a.log.count('not in allowed address space')).toBeGreaterThan(0);
    const warnings = a.log.count('not in allowed address space');
    await waitFor(
      () => a.log.lines.filter((l) => l.msg === 'no new nodes discovered' || l.level === 20).length > 2,
      { timeoutMs: 5000 },
    );
    expect(a.log.count('not in allowed address space')).toBe(warnings); // once per address, not every round
  });
});
