import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/cluster/membership/keyring.js';
import type { Memberlist } from '../../../src/cluster/membership/memberlist.js';
import { encodeAlive } from '../../../src/cluster/membership/messages.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { makeNode, stateOf } from './helpers.js';

const running: Memberlist[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((m) => m.shutdown()));
});

async function cluster(n: number, opts: Parameters<typeof makeNode>[2] = {}): Promise<Memberlist[]> {
  const ports = await freePorts(n);
  const nodes = ports.map((p, i) => makeNode(`n${i + 1}`, p, opts));
  running.push(...nodes);
  for (const m of nodes) await m.start();
  for (const m of nodes.slice(1)) {
    const r = await m.join([`127.0.0.1:${ports[0]}`]);
    expect(r.contacted).toBe(1);
  }
  await waitFor(() => nodes.every((m) => m.numAlive() === n), { what: 'convergence', timeoutMs: 10_000 });
  return nodes;
}

describe('memberlist in-process', () => {
  it('converges, detects a crash (suspect → dead), leave → left, restart → higher incarnation', async () => {
    const [a, b, c] = await cluster(3);
    const ports = [a!.address.port, b!.address.port, c!.address.port];
    const suspects: string[] = [];
    a!.on('change', (n) => {
      if (n.name === 'n3' && n.state === 'suspect') suspects.push(n.state);
    });
    await c!.shutdown();
    await waitFor(() => stateOf(a!, 'n3') === 'dead' && stateOf(b!, 'n3') === 'dead', {
      what: 'n3 dead',
      timeoutMs: 15_000,
    });
    expect(suspects.length).toBeGreaterThan(0);

    // Restart with the same name and port: refutes its death with a higher incarnation.
    const c2 = makeNode('n3', ports[2]!);
    running.push(c2);
    await c2.start();
    await c2.join([`127.0.0.1:${ports[0]}`]);
    await waitFor(() => stateOf(a!, 'n3') === 'alive' && stateOf(b!, 'n3') === 'alive', {
      what: 'n3 alive again',
      timeoutMs: 10_000,
    });
    expect(a!.member('n3')!.incarnation).toBeGreaterThan(1);

    await b!.leave(3000);
    await waitFor(() => stateOf(a!, 'n2') === 'left' && stateOf(c2, 'n2') === 'left', {
      what: 'n2 left',
      timeoutMs: 10_000,
    });
  });

  it('delivers user broadcasts and merges push/pull user state', async () => {
    const got = new Map<string, Buffer[]>();
    const states = new Map<string, string[]>();
    const ports = await freePorts(3);
    const nodes = ports.map((p, i) => {
      const name = `u${i + 1}`;
      got.set(name, []);
      return makeNode(name, p, {
        delegate: {
          notifyMsg: (b) => got.get(name)!.push(b),
          localState: () => Buffer.from(`state-of-${name}`),
          mergeRemoteState: (b) => states.set(name, [...(states.get(name) ?? []), b.toString()]),
        },
      });
    });
    running.push(...nodes);
    for (const m of nodes) await m.start();
    await nodes[1]!.join([`127.0.0.1:${ports[0]}`]);
    await nodes[2]!.join([`127.0.0.1:${ports[1]}`]);
    expect(states.get('u2')).toContain('state-of-u1');
    expect(states.get('u1')).toContain('state-of-u2');
    expect(states.get('u3')).toContain('state-of-u2');
    await waitFor(() => nodes.every((m) => m.numAlive() === 3), { what: 'convergence' });
    nodes[0]!.queueUserBroadcast(Buffer.from('hello-all'));
    await waitFor(() => ['u2', 'u3'].every((n) => got.get(n)!.some((b) => b.toString() === 'hello-all')), {
      what: 'broadcast delivered',
    });
    // Direct user messages: small (UDP) and large (TCP).
    await nodes[2]!.sendUserMsg('u1', Buffer.from('direct'));
    const big = Buffer.alloc(5000, 7);
    await nodes[2]!.sendUserMsg('u1', big);
    await waitFor(() => got.get('u1')!.some((b) => b.toString() === 'direct'), { what: 'direct udp' });
    await waitFor(() => got.get('u1')!.some((b) => b.equals(big)), { what: 'direct tcp' });
  });

  it('encrypts with a shared key; a different key cannot join', async () => {
    const key = Keyring.fromBase64('/lOqB8QlCRFHFaSjB990eEPDr3kSAQK9CEAhK9X9BCs=');
    const nodes = await cluster(2, { keyring: key });
    expect(nodes[0]!.numAlive()).toBe(2);
    const [p] = await freePorts(1);
    const other = makeNode('intruder', p!, {
      keyring: Keyring.fromBase64(Buffer.alloc(32, 1).toString('base64')),
    });
    running.push(other);
    await other.start();
    const r = await other.join([`127.0.0.1:${nodes[0]!.address.port}`]);
    expect(r.contacted).toBe(0);
    const plain = makeNode('plain', (await freePorts(1))[0]!);
    running.push(plain);
    await plain.start();
    expect((await plain.join([`127.0.0.1:${nodes[0]!.address.port}`])).contacted).toBe(0);
    expect(nodes[0]!.member('intruder')).toBeUndefined();
    expect(nodes[0]!.member('plain')).toBeUndefined();
  });

  it('indirect probes and the TCP fallback keep a node with one-way UDP loss alive', async () => {
    const [pa, pb, pc] = await freePorts(3);
    // c drops every UDP packet from a (a's direct pings and acks never arrive at c).
    const a = makeNode('fa', pa!);
    const b = makeNode('fb', pb!);
    const c = makeNode('fc', pc!, { dropInbound: (_ip, port) => port === pa });
    running.push(a, b, c);
    for (const m of [a, b, c]) await m.start();
    await b.join([`127.0.0.1:${pa}`]);
    await c.join([`127.0.0.1:${pb}`]);
    await waitFor(() => [a, b, c].every((m) => m.numAlive() === 3), { what: 'convergence' });
    await waitFor(() => a.stats.indirectAcks >= 3 && c.stats.indirectAcks >= 3, {
      what: 'indirect acks',
      timeoutMs: 20_000,
    });
    expect(stateOf(a, 'fc')).not.toBe('dead');
    // Without a helper, only the TCP fallback ping can reach c.
    await b.shutdown();
    await waitFor(() => stateOf(a, 'fb') === 'dead', { what: 'fb dead' });
    const before = a.stats.tcpFallbackAcks;
    await waitFor(() => a.stats.tcpFallbackAcks >= before + 3, {
      what: 'tcp fallback acks',
      timeoutMs: 20_000,
    });
    expect(stateOf(a, 'fc')).not.toBe('dead');
    expect(stateOf(c, 'fa')).not.toBe('dead');
  });

  it('labels: same label joins, different or missing label is dropped', async () => {
    const ports = await freePorts(3);
    const a = makeNode('la', ports[0]!, { label: 'blue' });
    const b = makeNode('lb', ports[1]!, { label: 'blue' });
    const c = makeNode('lc', ports[2]!, { label: 'red' });
    running.push(a, b, c);
    for (const m of [a, b, c]) await m.start();
    expect((await b.join([`127.0.0.1:${ports[0]}`])).contacted).toBe(1);
    expect((await c.join([`127.0.0.1:${ports[0]}`])).contacted).toBe(0);
    await waitFor(() => a.numAlive() === 2 && b.numAlive() === 2, { what: 'labelled pair' });
    expect(a.member('lc')).toBeUndefined();
    const dropped = await a.metrics.dropped.get();
    expect(dropped.values.find((v) => v.labels.reason === 'label')?.value).toBeGreaterThan(0);
  });

  it('rejects a push/pull join with incompatible delegate protocol versions (as memberlist does)', async () => {
    const ports = await freePorts(2);
    const a = makeNode('va', ports[0]!);
    const b = makeNode('vb', ports[1]!, { delegateProtocol: { min: 0, max: 0, version: 0 } });
    running.push(a, b);
    await a.start();
    await b.start();
    const r = await b.join([`127.0.0.1:${ports[0]}`]);
    expect(r.contacted).toBe(0);
    expect(r.errors[0]?.message).toMatch(/delegate protocol version \(\d\) is incompatible/);
    expect(a.member('vb')).toBeUndefined();
  });

  it('survives garbage: random, truncated and oversized UDP packets and TCP streams are dropped and counted', async () => {
    const [a] = await cluster(1);
    const port = a!.address.port;
    const udp = createSocket('udp4');
    const real = encodeAlive({
      incarnation: 5,
      node: 'x',
      addr: Buffer.from([127, 0, 0, 1]),
      port: 1,
      meta: Buffer.alloc(0),
      vsn: Buffer.from([1, 5, 2, 2, 5, 5]),
    });
    const packets: Buffer[] = [];
    for (let i = 0; i < 150; i++) packets.push(randomBytes(1 + Math.floor(Math.random() * 300)));
    for (let i = 1; i < real.length; i++) packets.push(real.subarray(0, i));
    for (let t = 0; t < 14; t++) packets.push(Buffer.concat([Buffer.from([t]), randomBytes(40)]));
    packets.push(Buffer.concat([Buffer.from([7, 255]), randomBytes(20)]));
    packets.push(Buffer.alloc(60_000, 9));
    for (const p of packets) await new Promise<void>((r) => udp.send(p, port, '127.0.0.1', () => r()));
    udp.close();
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.end(i % 2 === 0 ? randomBytes(100) : Buffer.from([6, 0x83, 0xa4]));
        });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    }
    await waitFor(
      async () => {
        const d = await a!.metrics.dropped.get();
        return d.values.reduce((n, v) => n + v.value, 0) >= 150;
      },
      { what: 'drops counted' },
    );
    const [p2] = await freePorts(1);
    const b = makeNode('after-garbage', p2!);
    running.push(b);
    await b.start();
    expect((await b.join([`127.0.0.1:${port}`])).contacted).toBe(1);
    await waitFor(() => a!.numAlive() === 2, { what: 'still works' });
  });
});
