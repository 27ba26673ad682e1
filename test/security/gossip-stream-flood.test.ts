import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess } from '../support/node-process.js';
import { freePorts } from '../support/ports.js';
import { rssBytes } from '../support/rss.js';

const MiB = 1024 * 1024;
/**
 * 64 connections, each: memberlist's encrypted-stream type byte (9), a u32
 * big-endian length of 20 MiB, then 20 MiB of envelope bytes as fast as the
 * socket takes them. Prints the bytes it got onto the wire.
 */
const ATTACKER = `
const net = require('node:net');
const port = Number(process.argv[1]);
const MiB = 1024 * 1024;
const header = Buffer.from([9, 0, 0, 0, 0]);
header.writeUInt32BE(20 * MiB, 1);
const chunk = Buffer.alloc(256 * 1024, 0x41);
chunk[0] = 1;
let sent = 0, open = 64;
const deadline = Date.now() + 20000;
for (let i = 0; i < 64; i++) {
  const s = net.connect(port, '127.0.0.1');
  let mine = 0;
  s.on('error', () => {});
  s.on('close', () => { if (--open === 0) { console.log('sent ' + sent); process.exit(0); } });
  const pump = () => {
    while (mine < 20 * MiB && Date.now() < deadline && !s.destroyed) {
      const ok = s.write(mine === 0 ? Buffer.concat([header, chunk]) : chunk);
      mine += chunk.length; sent += chunk.length;
      if (!ok) return void s.once('drain', pump);
    }
    s.end();
  };
  s.on('connect', pump);
}
`;

/**
 * The reported attack: 64 TCP streams to the gossip port of an encrypted node,
 * each declaring a 20 MiB envelope and sending it. The node must not buffer
 * them all (RSS bounded), must stay quick on /health, and must keep serving.
 */
describe('encrypted gossip over TCP under a stream flood', () => {
  let node: NodeProcess;
  let gossip: number;
  beforeAll(async () => {
    const [g, http] = (await freePorts(2)) as [number, number];
    gossip = g;
    node = new NodeProcess({
      config: {
        server: { host: '127.0.0.1', port: http, drain_accept_seconds: 0, drain_timeout_seconds: 2 },
        cluster_config: {
          enabled: true,
          node_name: 'flood-target',
          bind_address: '127.0.0.1',
          gossip: {
            port: gossip,
            encryption_key: randomBytes(32).toString('base64'),
            timings: { profile: 'local' },
          },
        },
      },
    }).start();
    await node.waitReady();
  });
  afterAll(async () => {
    await node?.destroy();
  });

  it('64 × 20 MiB declared streams: RSS stays bounded and /health answers fast', async () => {
    const rssBefore = rssBytes(node.pid!);
    // The attacker runs in its own process so that its busy loop does not slow the test's probes.
    const attacker = spawn(process.execPath, ['-e', ATTACKER, String(gossip)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    attacker.stdout!.on('data', (d) => {
      out += d;
    });
    const finished = new Promise<void>((r) => attacker.once('exit', () => r()));
    let running = true;
    void finished.then(() => {
      running = false;
    });
    let peakRss = rssBefore;
    let slowestHealthMs = 0;
    const until = Date.now() + 30_000;
    try {
      while (running && Date.now() < until) {
        const t = Date.now();
        const res = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(5000) });
        expect(res.status).toBe(200);
        slowestHealthMs = Math.max(slowestHealthMs, Date.now() - t);
        peakRss = Math.max(peakRss, rssBytes(node.pid!));
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      attacker.kill('SIGKILL');
    }
    await finished;
    const sent = Number(/sent (\d+)/.exec(out)?.[1] ?? 0);
    console.log(
      `flood: sent ${Math.round(sent / MiB)} MiB, RSS +${Math.round((peakRss - rssBefore) / MiB)} MiB, slowest /health ${slowestHealthMs} ms`,
    );
    // The flood was real (more than one declared stream's worth on the wire) and was refused, not absorbed.
    expect(sent).toBeGreaterThan(20 * MiB);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    const refused = [
      ...metrics.matchAll(
        /deepintshield_gossip_dropped_packets_total\{reason="(too_many_streams|oversized)"\} (\d+)/g,
      ),
    ];
    expect(refused.reduce((a, m) => a + Number(m[2]), 0)).toBeGreaterThanOrEqual(32);
    expect(node.running).toBe(true);
    expect(peakRss - rssBefore).toBeLessThan(160 * MiB);
    expect(slowestHealthMs).toBeLessThan(1000);
    const after = Date.now();
    expect((await fetch(`${node.url}/health`)).status).toBe(200);
    expect(Date.now() - after).toBeLessThan(500);
  }, 60_000);
});
