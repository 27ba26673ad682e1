import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MdnsDiscovery } from '../../../src/cluster/discovery/mdns.js';
import { TestNetwork } from '../../support/netns.js';
import { requireBinary } from '../../support/system.js';
import { waitFor } from '../../support/wait.js';
import { fakeRunner, makeCtx, ServerProcess } from './helpers.js';

const run = promisify(execFile);

describe('mdns discovery on loopback (interface 127.0.0.1)', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c().catch(() => {});
  });

  function node(i: number, service = '_distest._tcp') {
    const { ctx, log } = makeCtx(
      {
        type: 'mdns',
        mdns_service: service,
        mdns_interface: '127.0.0.1',
        dial_timeout: '2s',
        interval: '1s',
      },
      { name: `m${i}`, ip: `127.0.0.${20 + i}`, port: 10101 },
    );
    const r = fakeRunner(ctx, new MdnsDiscovery(ctx));
    return { ...r, ctx, log };
  }

  it('3 instances see each other; a goodbye removes one; another service type is not seen', async () => {
    const nodes = [1, 2, 3].map((i) => node(i));
    const stranger = node(9, '_other._tcp');
    for (const n of [...nodes, stranger]) cleanups.push(() => n.runner.stop(false));
    await Promise.all([...nodes, stranger].map((n) => n.runner.start()));
    for (const n of nodes)
      await waitFor(() => n.runner.lastPeers().length === 2, {
        timeoutMs: 8000,
        what: `${n.ctx.nodeName} peers`,
      });
    expect(nodes[0]!.runner.lastPeers()).toEqual(['127.0.0.22:10101', '127.0.0.23:10101']);
    expect(stranger.runner.lastPeers()).toEqual([]);
    await nodes[2]!.runner.stop(true); // goodbye (TTL 0)
    await waitFor(() => nodes[0]!.runner.lastPeers().length === 1, {
      timeoutMs: 5000,
      what: 'goodbye honoured',
    });
  });
});

describe('mdns interop with a real avahi-daemon (inside network namespaces)', () => {
  let net: TestNetwork;
  let dir: string;
  let bus: string;
  const procs: ServerProcess[] = [];
  let avahi: ServerProcess;
  let agent: ServerProcess;
  const agentPath = resolve(import.meta.dirname, 'agent.mjs');

  beforeAll(async () => {
    for (const b of ['avahi-daemon', 'avahi-browse', 'avahi-publish', 'dbus-daemon', 'ip']) requireBinary(b);
    dir = mkdtempSync(join(tmpdir(), 'dis-avahi-'));
    net = new TestNetwork(94).create(2);
    // A private bus (own socket, permissive policy) instead of the machine's system bus.
    bus = `unix:path=${join(dir, 'bus')}`;
    writeFileSync(
      join(dir, 'bus.conf'),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>${bus}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>`,
    );
    const dbus = new ServerProcess('dbus-daemon', [
      '--config-file',
      join(dir, 'bus.conf'),
      '--nofork',
      '--nopidfile',
    ]).start();
    procs.push(dbus);
    await waitFor(() => existsSync(join(dir, 'bus')), { timeoutMs: 5000, what: 'dbus socket' });
    writeFileSync(
      join(dir, 'avahi.conf'),
      '[server]\nhost-name=avahihost\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\nenable-dbus=yes\nratelimit-interval-usec=0\n[publish]\npublish-hinfo=no\npublish-workstation=no\n[reflector]\n[rlimits]\n',
    );
    // avahi keeps its pid file in /run/avahi-daemon: remove a stale one (dead pid) left by an earlier run
    const pidFile = '/run/avahi-daemon/pid';
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = true;
      } catch {
        /* dead */
      }
      if (alive)
        throw new Error(`another avahi-daemon (pid ${pid}) is running; this test needs its pid file`);
      unlinkSync(pidFile);
    }
    avahi = new ServerProcess('ip', [
      'netns',
      'exec',
      net.hosts[0]!.ns,
      'env',
      `DBUS_SYSTEM_BUS_ADDRESS=${bus}`,
      'avahi-daemon',
      '-f',
      join(dir, 'avahi.conf'),
      '--no-drop-root',
      '--no-chroot',
      '--no-rlimits',
      '--no-proc-title',
    ]).start();
    procs.push(avahi);
    await waitFor(() => avahi.output.join('').includes('Server startup complete'), {
      timeoutMs: 15_000,
      what: `avahi startup (${avahi.output.join('')})`,
    });
    agent = new ServerProcess('ip', [
      'netns',
      'exec',
      net.hosts[1]!.ns,
      process.execPath,
      agentPath,
      JSON.stringify({
        name: 'dis-node-2',
        ip: net.hosts[1]!.ip,
        port: 10101,
        config: { type: 'mdns', mdns_interface: 'eth0', interval: '1s', dial_timeout: '2s' },
      }),
    ]).start();
    procs.push(agent);
  });

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('avahi-browse resolves our advertised service', async () => {
    const line = await waitFor(
      async () => {
        const { stdout } = await run(
          'ip',
          [
            'netns',
            'exec',
            net.hosts[0]!.ns,
            'env',
            `DBUS_SYSTEM_BUS_ADDRESS=${bus}`,
            'timeout',
            '4',
            'avahi-browse',
            '-prt',
            '_bifrost._tcp',
          ],
          {
            timeout: 6000,
          },
        ).catch((e) => ({ stdout: String(e.stdout ?? '') }));
        return stdout.split('\n').find((l) => l.startsWith('=') && l.includes('dis-node-2'));
      },
      { timeoutMs: 20_000, what: 'avahi-browse sees dis-node-2' },
    );
    // =;eth0;IPv4;dis-node-2;_bifrost._tcp;local;dis-node-2.local;10.77.94.12;10101;"v=1" ...
    const f = line.split(';');
    expect(f[3]).toBe('dis-node-2');
    expect(f[7]).toBe(net.hosts[1]!.ip);
    expect(f[8]).toBe('10101');
  });

  it('we discover a service published by avahi-publish', async () => {
    const pub = new ServerProcess('ip', [
      'netns',
      'exec',
      net.hosts[0]!.ns,
      'env',
      `DBUS_SYSTEM_BUS_ADDRESS=${bus}`,
      'avahi-publish',
      '-s',
      'avahi-node',
      '_bifrost._tcp',
      '10101',
      'node=avahi-node',
    ]).start();
    procs.push(pub);
    await waitFor(() => agent.peers().includes(`${net.hosts[0]!.ip}:10101`), {
      timeoutMs: 20_000,
      what: `agent sees the avahi service (have ${agent.peers()}; ${agent.output.slice(-3).join(' | ')})`,
    });
    await pub.stop();
  });
});
