import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDiscovery } from '../../../src/cluster/discovery/etcd.js';
import { freePorts } from '../../support/ports.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx, ServerProcess } from './helpers.js';

let etcd: ServerProcess;
let dataDir: string;
let clientUrl: string;
let peerUrl: string;
let probe: Etcd3;
const cleanups: Array<() => Promise<unknown>> = [];

function etcdServer(): ServerProcess {
  return new ServerProcess('etcd', [
    '--name',
    't1',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `t1=${peerUrl}`,
  ]).start();
}

async function healthy(): Promise<void> {
  await waitFor(
    async () => {
      await probe.get('health-probe').string();
      return true;
    },
    { timeoutMs: 15_000, what: 'etcd healthy' },
  );
}

function node(i: number, ttl = 2) {
  const { ctx, log } = makeCtx(
    {
      type: 'etcd',
      etcd_endpoints: [clientUrl],
      etcd_prefix: '/test',
      dial_timeout: '2s',
      interval: '500ms',
      service_name: 'svc',
    },
    { name: `n${i}`, port: 20000 + i },
  );
  const method = new EtcdDiscovery(ctx, { leaseTtlSeconds: ttl });
  const r = fakeRunner(ctx, method);
  cleanups.push(() => r.runner.stop(false));
  return { ...r, ctx, log, method };
}

const keys = async () => Object.keys(await probe.getAll().prefix('/test/svc/').strings()).sort();

describe('etcd discovery (real etcd)', () => {
  beforeAll(async () => {
    requireBinary('etcd');
    dataDir = mkdtempSync(join(tmpdir(), 'dis-etcd-'));
    const [c, p] = await freePorts(2);
    clientUrl = `http://127.0.0.1:${c}`;
    peerUrl = `http://127.0.0.1:${p}`;
    etcd = etcdServer();
    probe = new Etcd3({ hosts: clientUrl, dialTimeout: 1000 });
    await healthy();
  });

  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
    probe?.close();
    await etcd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers, finds peers, lets a crashed key expire, deregisters gracefully', async () => {
    const a = node(1);
    const b = node(2);
    const c = node(3);
    await Promise.all([a.runner.start(), b.runner.start(), c.runner.start()]);
    expect(await keys()).toEqual(['/test/svc/n1', '/test/svc/n2', '/test/svc/n3']);
    expect(await probe.get('/test/svc/n1').string()).toBe('127.0.0.1:20001');
    for (const n of [a, b, c]) {
      await waitFor(() => n.runner.lastPeers().length === 2, {
        timeoutMs: 5000,
        what: `${n.ctx.nodeName} sees 2 peers`,
      });
    }
    expect(a.runner.lastPeers()).toEqual(['127.0.0.1:20002', '127.0.0.1:20003']);
    expect(a.members.has('127.0.0.1:20002')).toBe(true);
    expect(a.log.has(/discovered \d+ nodes/)).toBe(true);

    // crash: no revoke, the key goes when the 2 s lease runs out
    await c.runner.stop(false);
    await waitFor(async () => !(await keys()).includes('/test/svc/n3'), {
      timeoutMs: 8000,
      what: 'crashed key expired',
    });
    await waitFor(() => a.runner.lastPeers().length === 1, { timeoutMs: 5000, what: 'n1 drops n3' });

    // graceful: key removed at once
    await b.runner.stop(true);
    expect(await keys()).toEqual(['/test/svc/n1']);
  });

  it('survives etcd going away and coming back', async () => {
    const a = node(4, 3);
    const b = node(5, 3);
    await Promise.all([a.runner.start(), b.runner.start()]);
    await waitFor(() => a.runner.lastPeers().includes('127.0.0.1:20005'), {
      timeoutMs: 5000,
      what: 'n4 sees n5',
    });

    await etcd.stop('SIGKILL');
    await a.log.waitFor('discovery failed', 10_000);
    expect(a.log.lines.find((l) => l.msg === 'discovery failed')?.err).toBeTruthy();
    // the last good answer is kept and nothing was torn down
    expect(a.members.has('127.0.0.1:20005')).toBe(true);

    etcd = etcdServer();
    await healthy();
    const failedBefore = a.log.count('discovery failed');
    await waitFor(
      async () => (await keys()).includes('/test/svc/n4') && (await keys()).includes('/test/svc/n5'),
      {
        timeoutMs: 20_000,
        what: 'keys present after restart',
      },
    );
    const d = node(6, 3);
    await d.runner.start();
    await waitFor(() => a.runner.lastPeers().includes('127.0.0.1:20006'), {
      timeoutMs: 15_000,
      what: 'n4 finds n6 after restart',
    });
    expect(a.log.count('discovery failed')).toBeGreaterThanOrEqual(failedBefore);
  });

  it('logs "failed to register with etcd" when etcd is unreachable', async () => {
    const [dead] = await freePorts(1);
    const { ctx, log } = makeCtx(
      { type: 'etcd', etcd_endpoints: [`http://127.0.0.1:${dead}`], dial_timeout: '500ms', interval: '1s' },
      { name: 'lonely', port: 20100 },
    );
    const r = fakeRunner(ctx, new EtcdDiscovery(ctx, { leaseTtlSeconds: 2 }));
    cleanups.push(() => r.runner.stop(false));
    await r.runner.start();
    await log.waitFor('failed to register with etcd', 5000);
    await log.waitFor('discovery failed', 5000);
    expect(log.has('etcd client error')).toBe(true);
    await r.runner.stop(false);
  });
});
