import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../../../src/cluster/cluster.js';
import { clusterSchema } from '../../../src/config/schema.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { FAST } from './helpers.js';

const clusters: Cluster[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.shutdown()));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function captureLogger() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, dest), lines };
}

async function readyServer(port: number, ready: () => boolean): Promise<Server> {
  const s = createServer((req, res) => {
    res.statusCode = req.url === '/ready' && ready() ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  servers.push(s);
  return s;
}

async function node(
  name: string,
  gossipPort: number,
  httpPort: number,
  peers: string[],
  registry = new Registry(),
) {
  const config = clusterSchema.parse({
    enabled: true,
    node_name: name,
    bind_address: '127.0.0.1',
    peers,
    tags: { zone: 'z1' },
    gossip: {
      port: gossipPort,
      config: { timeout_seconds: 1, success_threshold: 2, failure_threshold: 2, interval_seconds: 0.2 },
    },
  });
  const { logger, lines } = captureLogger();
  const c = new Cluster({
    config,
    httpAddress: `127.0.0.1:${httpPort}`,
    version: '9.9.9',
    logger,
    registry,
    timings: FAST,
    traffic: () => ({ rps: name.length, in_flight: 1, error_rate: 0 }),
    joinRetry: { attempts: 3, initialMs: 200, maxMs: 400 },
  });
  clusters.push(c);
  await c.start();
  return { c, lines };
}

describe('Cluster', () => {
  it('joins peers, computes health, carries traffic and channels, leaves', async () => {
    const [g1, g2, g3, h1, h2, h3] = await freePorts(6);
    const ready = new Map([
      [h1, true],
      [h2, true],
      [h3, true],
    ]);
    for (const h of [h1!, h2!, h3!]) await readyServer(h, () => ready.get(h)!);
    const registry = new Registry();
    const a = await node('c-a', g1!, h1!, [], registry);
    const b = await node('c-b', g2!, h2!, [`127.0.0.1:${g1}`]);
    const c = await node('c-c', g3!, h3!, [`127.0.0.1:${g1}`, `127.0.0.1:${g2}`]);
    expect(a.c.firstJoinDone).toBe(true);
    expect(await a.c.join([`127.0.0.1:${g1}`])).toBe(0); // self is skipped
    await b.c.whenFirstJoinDone();
    await c.c.whenFirstJoinDone();
    expect(b.lines.some((l) => l.msg === 'successfully joined 1 peers on startup')).toBe(true);
    expect(c.lines.some((l) => l.msg === 'successfully joined 2 peers on startup')).toBe(true);

    await waitFor(
      () => [a, b, c].every((x) => x.c.status().cluster_health === 'HEALTHY' && x.c.status().members === 3),
      {
        what: 'HEALTHY 3/3',
      },
    );
    const st = a.c.status();
    expect(st.local_node).toBe('c-a');
    expect(st.healthy_members).toBe(3);
    const nb = st.nodes.find((n) => n.name === 'c-b')!;
    expect(nb).toMatchObject({
      address: `127.0.0.1:${g2}`,
      http_address: `127.0.0.1:${h2}`,
      state: 'alive',
      healthy: true,
      version: '9.9.9',
    });
    expect(a.lines.some((l) => l.msg === 'cluster health: HEALTHY')).toBe(true);
    const mb = a.c.members().find((m) => m.name === 'c-b')!;
    expect(mb.tags).toMatchObject({ zone: 'z1', http: `127.0.0.1:${h2}`, version: '9.9.9' });
    await waitFor(() => a.c.status().nodes.find((n) => n.name === 'c-c')?.traffic?.rps === 3, {
      what: 'traffic',
    });

    // channels: broadcast, direct, push/pull state
    const got: string[] = [];
    b.c.channel(5).onMessage((p, from) => got.push(`${from}:${p.toString()}`));
    c.c.channel(5).onMessage((p, from) => got.push(`${from}@c:${p.toString()}`));
    a.c.channel(5).broadcast(Buffer.from('hi'));
    await a.c.channel(5).sendTo('c-b', Buffer.from('direct'));
    await waitFor(() => got.includes('c-a:hi') && got.includes('c-a@c:hi') && got.includes('c-a:direct'), {
      what: 'channel messages',
    });
    const states: string[] = [];
    a.c.channel(6).setLocalState(() => Buffer.from('A-state'));
    b.c.channel(6).onRemoteState((buf, join) => states.push(`${buf}:${join}`));
    await b.c.join([`127.0.0.1:${g1}`]);
    expect(states).toContain('A-state:true');

    // a peer's /ready failing → unhealthy → NOT HEALTHY
    ready.set(h3, false);
    await waitFor(() => a.c.status().cluster_health === 'NOT HEALTHY', { what: 'NOT HEALTHY' });
    expect(a.lines.some((l) => l.msg === 'cluster health: NOT HEALTHY')).toBe(true);
    ready.set(h3, true);
    await waitFor(() => a.c.status().cluster_health === 'HEALTHY', { what: 'HEALTHY again' });

    const events: string[] = [];
    a.c.on('member', (ev) => events.push(`${ev.type}:${ev.member.name}:${ev.member.state}`));
    await c.c.leave(2000);
    await waitFor(() => a.c.status().nodes.find((n) => n.name === 'c-c')?.state === 'left', {
      what: 'c left',
    });
    const after = a.c.status();
    expect(after.members).toBe(2);
    expect(after.healthy_members).toBe(2);
    expect(after.cluster_health).toBe('HEALTHY');
    expect(events).toContain('leave:c-c:left');
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/deepintshield_gossip_packets_in_total\{transport="udp"\} \d+/);
  });

  it('reports a failed startup join and still finishes the first attempt', async () => {
    const [g1, g2, h1] = await freePorts(3);
    const a = await node('lonely', g1!, h1!, [`127.0.0.1:${g2}`]);
    await a.c.whenFirstJoinDone();
    expect(a.c.firstJoinDone).toBe(true);
    expect(await a.c.join([`127.0.0.1:${g1}`])).toBe(0); // self is skipped
    expect(a.lines.some((l) => l.msg === 'failed to join cluster')).toBe(true);
    expect(a.c.status()).toMatchObject({ members: 1, healthy_members: 1, cluster_health: 'HEALTHY' });
  });
});
