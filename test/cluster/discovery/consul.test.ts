import Consul from 'consul';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsulDiscovery } from '../../../src/cluster/discovery/consul.js';
import { FakeConsul } from '../../fakes/consul.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx } from './helpers.js';

const TOKEN = 'secret-acl-token';

describe('Consul fake answers what the official client expects', () => {
  const fake = new FakeConsul({ token: TOKEN });
  let port: number;
  beforeAll(async () => {
    port = await fake.start();
  });
  afterAll(() => fake.stop());

  it('register, pass, health (blocking), deregister via the consul npm client', async () => {
    const consul = new Consul({ host: '127.0.0.1', port, defaults: { token: TOKEN } });
    await consul.agent.service.register({
      name: 'web',
      id: 'web-1',
      address: '127.0.0.5',
      port: 9000,
      check: { ttl: '10s', deregistercriticalserviceafter: '1m' },
    } as never);
    expect(Object.keys(await consul.agent.service.list())).toEqual(['web-1']);
    // TTL checks start critical
    expect(await consul.health.service({ service: 'web', passing: true })).toEqual([]);
    await consul.agent.check.pass({ id: 'service:web-1' });
    const list = (await consul.health.service({ service: 'web', passing: true })) as Array<{
      Service: { ID: string; Address: string; Port: number };
    }>;
    expect(list.map((e) => [e.Service.ID, e.Service.Address, e.Service.Port])).toEqual([
      ['web-1', '127.0.0.5', 9000],
    ]);

    // blocking query via the client's watch: wakes on change with a new X-Consul-Index
    const watch = consul.watch({
      method: consul.health.service,
      options: { service: 'web', passing: true, wait: '5s' } as never,
    });
    const changes: number[] = [];
    watch.on('change', (data: unknown[]) => changes.push(data.length));
    watch.on('error', () => {});
    await waitFor(() => changes.length === 1, { timeoutMs: 3000 });
    await consul.agent.service.register({
      name: 'web',
      id: 'web-2',
      address: '127.0.0.6',
      port: 9000,
      check: { ttl: '10s' },
    } as never);
    await consul.agent.check.pass({ id: 'service:web-2' });
    await waitFor(() => changes.at(-1) === 2, { timeoutMs: 3000, what: 'watch saw web-2' });
    watch.end();

    await consul.agent.service.deregister('web-2');
    await expect(consul.agent.service.deregister('nope')).rejects.toThrow();
    await expect(new Consul({ host: '127.0.0.1', port }).agent.service.list()).rejects.toThrow(
      /ACL not found|forbidden|403/i,
    );
  });
});

describe('consul discovery (against the fake)', () => {
  const fake = new FakeConsul({ token: TOKEN });
  const cleanups: Array<() => Promise<unknown>> = [];
  beforeAll(() => fake.start());
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
    await fake.stop();
  });

  function node(i: number, over: Record<string, unknown> = {}) {
    const { ctx, log } = makeCtx(
      {
        type: 'consul',
        consul_address: fake.address,
        consul_token: TOKEN,
        service_name: 'dis',
        dial_timeout: '1s',
        interval: '5s',
        ...over,
      },
      { name: `c${i}`, ip: `127.0.0.${10 + i}`, port: 10101 },
    );
    const method = new ConsulDiscovery(ctx, { ttlSeconds: 1 });
    const r = fakeRunner(ctx, method);
    cleanups.push(() => r.runner.stop(false));
    return { ...r, ctx, log };
  }

  it('3 instances register with passing TTL checks and find each other; watch events beat the interval', async () => {
    const nodes = [node(1), node(2)];
    await Promise.all(nodes.map((n) => n.runner.start()));
    const s = fake.services.get('c1')!;
    expect([s.Service, s.Address, s.Port, s.checkId]).toEqual(['dis', '127.0.0.11', 10101, 'service:c1']);
    expect(fake.requests.every((r) => r.token === TOKEN)).toBe(true);
    await waitFor(() => nodes[0]!.runner.lastPeers().includes('127.0.0.12:10101'), { timeoutMs: 3000 });

    // a third node appears: the blocking query wakes the others long before the 5 s interval
    const c3 = node(3);
    await c3.runner.start();
    for (const n of nodes)
      await waitFor(() => n.runner.lastPeers().includes('127.0.0.13:10101'), {
        timeoutMs: 3000,
        what: 'watch wake-up',
      });
    expect(c3.runner.lastPeers()).toEqual(['127.0.0.11:10101', '127.0.0.12:10101']);

    // TTL is kept passing well past its 1 s
    await new Promise((r) => setTimeout(r, 1500));
    expect(fake.services.get('c1')?.status).toBe('passing');

    // crash: check goes critical, the node drops out of ?passing=true
    await c3.runner.stop(false);
    await waitFor(() => fake.services.get('c3')?.status === 'critical', { timeoutMs: 4000 });
    await waitFor(() => !nodes[0]!.runner.lastPeers().includes('127.0.0.13:10101'), { timeoutMs: 4000 });

    // graceful: deregistered at once
    await nodes[1]!.runner.stop(true);
    expect(fake.services.has('c2')).toBe(false);
  });

  it('agent errors: "failed to register service with Consul", then re-registration once the agent answers again', async () => {
    fake.failing = true;
    const n = node(7);
    await n.runner.start();
    expect(n.log.has('failed to register service with Consul')).toBe(true);
    expect(n.log.has('discovery failed')).toBe(true);
    fake.failing = false;
    await waitFor(() => fake.services.get('c7')?.status === 'passing', {
      timeoutMs: 5000,
      what: 're-registered',
    });
    await waitFor(() => n.runner.lastPeers().length > 0, { timeoutMs: 5000 });
  });

  it('a wrong token is refused with a clear log', async () => {
    const n = node(8, { consul_token: 'wrong' });
    await n.runner.start();
    const line = n.log.lines.find((l) => l.msg === 'failed to register service with Consul');
    expect(String(line?.err)).toMatch(/403/);
  });
});
