import { createCipheriv, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Hostile gossip input: ≥100,000 random, truncated, oversized, wrongly encoded
 * and wrong-key packets over UDP, plus half-open and slow TCP connections, at
 * one node of an encrypted 3-node cluster. It must not crash, must not grow
 * without bound, must count the drops, and the cluster must stay HEALTHY.
 */
const KEY = randomBytes(32).toString('base64');
const WRONG_KEY = randomBytes(32);
const PACKETS = 100_000;

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

function encryptWrong(plain: Buffer): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', WRONG_KEY, nonce);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([Buffer.from([1]), nonce, body, c.getAuthTag()]);
}

function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const head = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return Number(vals[head.indexOf('RcvbufErrors')] ?? 0);
}

/** A family of malformed packets; each call returns a fresh one. */
const generators: (() => Buffer)[] = [
  () => randomBytes(1 + Math.floor(Math.random() * 1400)),
  () => Buffer.from([Math.floor(Math.random() * 14)]),
  () => Buffer.concat([Buffer.from([0]), Buffer.from(encode({ SeqNo: 'x', Node: 42 }))]),
  () =>
    Buffer.concat([
      Buffer.from([4]),
      Buffer.from(encode({ Incarnation: -1, Node: '', Addr: 5, Port: 70000, Vsn: [1, 2] })),
    ]),
  () => Buffer.concat([Buffer.from([7, 255]), randomBytes(40)]),
  () => Buffer.from([7, 2, 0xff, 0xff, 0x00, 0x01, 0x00]),
  () => Buffer.concat([Buffer.from([9]), Buffer.from(encode({ Algo: 0, Buf: randomBytes(200) }))]),
  () => Buffer.concat([Buffer.from([9]), Buffer.from(encode({ Algo: 7, Buf: Buffer.alloc(10) }))]),
  () => Buffer.concat([Buffer.from([12, 1, 2, 3, 4]), randomBytes(30)]),
  () => Buffer.concat([Buffer.from([0xf4, 200]), randomBytes(10)]),
  () => Buffer.from([0, 0xdb, 0xff, 0xff, 0xff, 0xff]),
  () => Buffer.concat([Buffer.from([0]), Buffer.alloc(2000, 0x91)]),
  () => encryptWrong(Buffer.concat([Buffer.from([0]), Buffer.from(encode({ SeqNo: 1, Node: 'x' }))])),
  () => randomBytes(60_000),
  () => Buffer.concat([Buffer.from([8]), randomBytes(100)]),
];

describe('gossip under hostile input', () => {
  const nodes: NodeProcess[] = [];
  let gossipPort = 0;

  beforeAll(async () => {
    const ports = await freePorts(6);
    const gossip = ports.slice(0, 3);
    gossipPort = gossip[0]!;
    for (let i = 0; i < 3; i++) {
      nodes.push(
        new NodeProcess({
          config: {
            server: { host: '127.0.0.1', port: ports[3 + i], drain_accept_seconds: 0 },
            cluster_config: {
              enabled: true,
              node_name: `fuzz-${i}`,
              bind_address: '127.0.0.1',
              peers: gossip.filter((_, j) => j !== i).map((p) => `127.0.0.1:${p}`),
              gossip: {
                port: gossip[i],
                encryption_key: KEY,
                timings: { profile: 'local' },
                config: {
                  timeout_seconds: 1,
                  interval_seconds: 0.5,
                  success_threshold: 1,
                  failure_threshold: 3,
                },
              },
            },
          },
        }).start(),
      );
    }
    await Promise.all(nodes.map((n) => n.waitReady()));
    await waitFor(
      async () =>
        (await nodes[0]!.status()).cluster_health === 'HEALTHY' && (await nodes[0]!.status()).members === 3,
      {
        timeoutMs: 30_000,
        what: '3 healthy members',
      },
    );
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  });

  it(`survives ${PACKETS} malformed UDP packets and hostile TCP connections`, async () => {
    const target = nodes[0]!;
    const rssBefore = rssKb(target.pid!);
    const kernelDropsBefore = udpRcvbufErrors();
    const sock = createSocket('udp4');
    let sent = 0;
    const started = Date.now();
    while (sent < PACKETS && Date.now() - started < 60_000) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 100 && sent < PACKETS; i++, sent++) {
        const pkt = generators[sent % generators.length]!();
        batch.push(new Promise((r) => sock.send(pkt, gossipPort, '127.0.0.1', () => r())));
      }
      await Promise.all(batch);
      // ~20,000 packets/s: fast, but paced so the kernel's receive buffer does not drop most of them
      await sleep(5);
    }
    sock.close();
    expect(sent).toBe(PACKETS);

    // TCP: half-open connections that never send, slow drips, garbage streams, claimed-huge lengths.
    const sockets: Socket[] = [];
    const openTcp = (first?: Buffer) =>
      new Promise<void>((r) => {
        const s = connect(gossipPort, '127.0.0.1', () => {
          if (first) s.write(first);
          r();
        });
        s.on('error', () => undefined);
        sockets.push(s);
      });
    for (let i = 0; i < 50; i++) await openTcp();
    for (let i = 0; i < 50; i++) await openTcp(Buffer.from([10, 0x7f, 0xff, 0xff, 0xff]));
    for (let i = 0; i < 50; i++) await openTcp(Buffer.concat([Buffer.from([6]), randomBytes(500)]));
    for (let i = 0; i < 20; i++) await openTcp(Buffer.from([6, 0x83]));

    await sleep(3000);
    for (const s of sockets) s.destroy();

    expect(target.running).toBe(true);
    await waitFor(
      async () => {
        const s = await target.status();
        return s.cluster_health === 'HEALTHY' && s.members === 3 && s.healthy_members === 3;
      },
      { timeoutMs: 20_000, what: 'cluster HEALTHY after the fuzzing' },
    );
    const rssAfter = rssKb(target.pid!);
    const metrics = await (await fetch(`${target.url}/metrics`)).text();
    const dropped = metrics
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('deepintshield_gossip_') && /dropped|invalid|decrypt/.test(l) && !l.startsWith('#'),
      )
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    console.log(
      `gossip fuzz: ${sent} packets, rss ${rssBefore} kB -> ${rssAfter} kB, dropped counted ${dropped}`,
    );
    const kernelDrops = udpRcvbufErrors() - kernelDropsBefore;
    console.log(`gossip fuzz: kernel receive-buffer drops ${kernelDrops}`);
    // Every packet that reached the node was rejected and counted (a few may be valid by chance: random bytes).
    expect(dropped + kernelDrops).toBeGreaterThan(PACKETS * 0.9);
    expect(rssAfter - rssBefore).toBeLessThan(100 * 1024);
  }, 120_000);
});
