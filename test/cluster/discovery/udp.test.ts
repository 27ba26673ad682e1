import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAnnouncement, encodeAnnouncement, UdpDiscovery } from '../../../src/cluster/discovery/udp.js';
import { TestNetwork } from '../../support/netns.js';
import { freePort } from '../../support/ports.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx, ServerProcess } from './helpers.js';

const KEY = randomBytes(32);

describe('udp packet', () => {
  it('round-trips, and rejects unsigned, tampered and stale packets when a key is set', () => {
    const ann = { service: 's', node: 'n', addr: '10.0.0.1:10101', ts: Date.now(), nonce: 'x' };
    expect(decodeAnnouncement(encodeAnnouncement(ann))).toEqual({ ok: true, ann });
    expect(decodeAnnouncement(encodeAnnouncement(ann, KEY), KEY)).toEqual({ ok: true, ann });
    expect(decodeAnnouncement(encodeAnnouncement(ann), KEY)).toEqual({
      ok: false,
      reason: 'unauthenticated',
    });
    const bad = encodeAnnouncement(ann, KEY);
    bad[10] = bad[10]! ^ 1;
    expect(decodeAnnouncement(bad, KEY)).toEqual({ ok: false, reason: 'bad-mac' });
    expect(decodeAnnouncement(encodeAnnouncement(ann, randomBytes(32)), KEY)).toEqual({
      ok: false,
      reason: 'bad-mac',
    });
    expect(decodeAnnouncement(encodeAnnouncement({ ...ann, ts: Date.now() - 600_000 }, KEY), KEY)).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(decodeAnnouncement(Buffer.from('garbage'), KEY)).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('udp discovery on loopback (127.255.255.255 only)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
  });

  it('3 instances find each other; forged, unsigned and foreign-service packets are dropped', async () => {
    const port = await freePort();
    const base = {
      type: 'udp',
      udp_broadcast_port: port,
      udp_broadcast_address: '127.255.255.255',
      allowed_address_space: ['127.0.0.0/8'],
      interval: '1s',
      dial_timeout: '2s',
      service_name: 'svc',
    };
    const nodes = [1, 2, 3].map((i) => {
      const { ctx, log } = makeCtx(base, { name: `u${i}`, port: 30000 + i, key: KEY });
      const r = fakeRunner(ctx, new UdpDiscovery(ctx));
      cleanups.push(() => r.runner.stop(true));
      return { ...r, log };
    });
    await Promise.all(nodes.map((n) => n.runner.start()));
    for (const n of nodes)
      await waitFor(() => n.runner.lastPeers().length === 2, { timeoutMs: 8000, what: 'udp peers' });
    expect(nodes[0]!.runner.lastPeers()).toEqual(['127.0.0.1:30002', '127.0.0.1:30003']);

    const s = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const send = (b: Buffer) => new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));
    const now = () => ({ ts: Date.now(), nonce: randomBytes(4).toString('hex') });
    for (let i = 0; i < 5; i++)
      await send(
        encodeAnnouncement(
          { service: 'svc', node: `evil${i}`, addr: `127.0.0.9:${40000 + i}`, ...now() },
          randomBytes(32),
        ),
      );
    await send(encodeAnnouncement({ service: 'svc', node: 'plain', addr: '127.0.0.9:41000', ...now() }));
    await send(
      encodeAnnouncement({ service: 'other', node: 'foreign', addr: '127.0.0.9:42000', ...now() }, KEY),
    );
    await send(
      encodeAnnouncement({ service: 'svc', node: 'outsider', addr: '10.1.2.3:43000', ...now() }, KEY),
    );
    s.close();
    // unicast reaches one of the reuseAddr sockets; find which one logged
    await waitFor(() => nodes.some((n) => n.log.has('dropped unauthenticated discovery announcement')), {
      timeoutMs: 5000,
    });
    await waitFor(() => nodes.some((n) => n.log.has('not in allowed address space')), { timeoutMs: 5000 });
    // a couple more rounds: none of them shows up
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of nodes) {
      expect(n.runner.lastPeers().every((p) => p.startsWith('127.0.0.1:3000'))).toBe(true);
      expect(n.log.count('dropped unauthenticated discovery announcement')).toBeLessThanOrEqual(1); // rate-limited
      expect(n.log.count('not in allowed address space')).toBeLessThanOrEqual(1);
    }
  });
});

describe('udp discovery across network namespaces', () => {
  let net: TestNetwork;
  const agents: ServerProcess[] = [];
  const agentPath = resolve(import.meta.dirname, 'agent.mjs');

  beforeAll(() => {
    requireBinary('ip');
    net = new TestNetwork(93).create(3);
    net.addHost(10); // 10.77.93.20: outside allowed_address_space
    net.addHost(4); // 10.77.93.14: another service_name
    net.addHost(5); // 10.77.93.15: wrong key
  });

  afterAll(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    net?.destroy();
  });

  function agent(i: number, over: Record<string, unknown> = {}, key = KEY) {
    const h = net.hosts[i - 1]!;
    const opts = {
      name: `h${i}`,
      ip: h.ip,
      port: 10101,
      key: key.toString('base64'),
      config: {
        udp_broadcast_port: 7946,
        allowed_address_space: ['10.77.93.0/28'],
        interval: '1s',
        dial_timeout: '2s',
        service_name: 'svc',
        ...over,
      },
    };
    const a = new ServerProcess('ip', [
      'netns',
      'exec',
      h.ns,
      process.execPath,
      '--import',
      'tsx',
      agentPath,
      JSON.stringify(opts),
    ]).start();
    agents.push(a);
    return a;
  }

  it('hosts find each other by directed broadcast; outsiders, other services and bad HMACs are ignored', async () => {
    const [a1, a2, a3] = [agent(1), agent(2), agent(3)];
    const outsider = agent(10);
    const foreign = agent(4, { service_name: 'other' });
    agent(5, {}, randomBytes(32));
    const want = (a: ServerProcess, peers: string[]) =>
      waitFor(() => a.peers().join(',') === peers.join(','), {
        timeoutMs: 15_000,
        what: `peers ${peers} (have ${a.peers()}; ${a.output.slice(-5).join(' | ')})`,
      });
    await want(a1, ['10.77.93.12:10101', '10.77.93.13:10101']);
    await want(a2, ['10.77.93.11:10101', '10.77.93.13:10101']);
    await want(a3, ['10.77.93.11:10101', '10.77.93.12:10101']);
    await waitFor(() => a1.count('not in allowed address space') > 0, { timeoutMs: 5000 });
    const warning = a1.json.find((l) => l.msg === 'not in allowed address space');
    expect(warning?.address).toBe('10.77.93.20');
    // several rounds later: still exactly one warning, outsider and foreign service absent
    await waitFor(() => a1.count('no new nodes discovered') + a1.count('discovered') >= 2, {
      timeoutMs: 5000,
    });
    await new Promise((r) => setTimeout(r, 2500));
    expect(a1.count('not in allowed address space')).toBe(1);
    expect(a1.peers()).toEqual(['10.77.93.12:10101', '10.77.93.13:10101']);
    expect(outsider.running && foreign.running).toBe(true);
    expect(foreign.peers()).toEqual([]);
    expect(a1.count('dropped unauthenticated discovery announcement')).toBe(1); // h5's bad HMAC, rate-limited
  });
});
