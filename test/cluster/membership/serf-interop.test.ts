import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/cluster/membership/keyring.js';
import type { Memberlist } from '../../../src/cluster/membership/memberlist.js';
import { encodeTags } from '../../../src/cluster/membership/serf.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { FAST, makeNode, stateOf } from './helpers.js';

const run = promisify(execFile);
const KEY = '/lOqB8QlCRFHFaSjB990eEPDr3kSAQK9CEAhK9X9BCs=';
const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');

interface Serf {
  proc: ChildProcess;
  port: number;
  rpc: string;
  log: string[];
}
const agents: Serf[] = [];
const nodes: Memberlist[] = [];

async function startSerf(name: string, key?: string): Promise<Serf> {
  const [port, rpcPort] = await freePorts(2);
  const args = [
    'agent',
    `-node=${name}`,
    `-bind=127.0.0.1:${port}`,
    `-rpc-addr=127.0.0.1:${rpcPort}`,
    '-profile=local',
    '-tag',
    'role=serf',
  ];
  if (key) args.push(`-encrypt=${key}`);
  const proc = spawn('/usr/bin/serf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s: Serf = { proc, port: port!, rpc: `127.0.0.1:${rpcPort}`, log: [] };
  proc.stdout!.on('data', (d) => s.log.push(String(d)));
  proc.stderr!.on('data', (d) => s.log.push(String(d)));
  agents.push(s);
  await waitFor(() => serfMembers(s).then(() => true), { what: 'serf RPC', timeoutMs: 15_000 });
  return s;
}

interface SerfMember {
  name: string;
  status: string;
  tags: Record<string, string>;
  protocol: { min: number; max: number; version: number };
}
async function serfMembers(s: Serf): Promise<SerfMember[]> {
  const { stdout } = await run('/usr/bin/serf', ['members', `-rpc-addr=${s.rpc}`, '-format=json'], {
    timeout: 5000,
  });
  return (JSON.parse(stdout) as { members: SerfMember[] }).members;
}
const serfStatus = async (s: Serf, name: string) =>
  (await serfMembers(s)).find((m) => m.name === name)?.status;

function stopSerf(s: Serf, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    s.proc.once('exit', () => resolve());
    s.proc.kill(signal);
  });
}

async function ourNode(name: string, keyring?: Keyring): Promise<Memberlist> {
  const [p] = await freePorts(1);
  const m = makeNode(name, p!, {
    keyring,
    timings: { ...FAST, probeInterval: 300, probeTimeout: 150 },
    meta: encodeTags({ http: `127.0.0.1:${p}`, version: '0.1.0-test' }),
  });
  nodes.push(m);
  await m.start();
  return m;
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  await Promise.all(agents.splice(0).map((s) => stopSerf(s, 'SIGKILL')));
});
afterAll(async () => {
  await Promise.all(agents.map((s) => stopSerf(s, 'SIGKILL')));
});

describe('interop with the serf agent', () => {
  it('joins both ways, shows tags, sees failures and leaves', async () => {
    const s = await startSerf('s1');
    const js1 = await ourNode('js1');
    const js2 = await ourNode('js2');
    const js3 = await ourNode('js3');

    // serf joins us (serf-initiated TCP push/pull).
    await run('/usr/bin/serf', ['join', `-rpc-addr=${s.rpc}`, `127.0.0.1:${js1.address.port}`], {
      timeout: 10_000,
    });
    // We join serf.
    expect((await js2.join([`127.0.0.1:${s.port}`])).contacted).toBe(1);
    expect((await js3.join([`127.0.0.1:${s.port}`])).contacted).toBe(1);

    await waitFor(
      async () => {
        const ms = await serfMembers(s);
        return ['js1', 'js2', 'js3'].every((n) => ms.find((m) => m.name === n)?.status === 'alive');
      },
      { what: 'serf lists js1..js3 alive' },
    );
    await waitFor(() => [js1, js2, js3].every((m) => m.numAlive() === 4 && stateOf(m, 's1') === 'alive'), {
      what: 'we list everyone alive',
    });
    const me = (await serfMembers(s)).find((m) => m.name === 'js1')!;
    expect(me.tags).toEqual({ http: `127.0.0.1:${js1.address.port}`, version: '0.1.0-test' });
    expect(me.protocol).toEqual({ min: 2, max: 5, version: 5 });
    expect(js1.member('s1')!.meta[0]).toBe(0xff);

    // Graceful leave → serf shows left.
    await js3.leave(3000);
    await waitFor(async () => (await serfStatus(s, 'js3')) === 'left', { what: 'serf shows js3 left' });
    await js3.shutdown();

    // Shutdown without leave → serf shows failed.
    await js2.shutdown();
    await waitFor(async () => (await serfStatus(s, 'js2')) === 'failed', {
      what: 'serf shows js2 failed',
      timeoutMs: 30_000,
    });

    // Restart js2 with the same name and port: it refutes its death and serf lists it alive again.
    const js2again = makeNode('js2', js2.address.port, {
      timings: { ...FAST, probeInterval: 300, probeTimeout: 150 },
      meta: encodeTags({ http: `127.0.0.1:${js2.address.port}`, version: '0.1.0-test' }),
    });
    nodes.push(js2again);
    await js2again.start();
    expect((await js2again.join([`127.0.0.1:${s.port}`])).contacted).toBe(1);
    await waitFor(async () => (await serfStatus(s, 'js2')) === 'alive', {
      what: 'serf shows js2 alive again',
    });
    expect(js2again.localIncarnation).toBeGreaterThan(1);
    await waitFor(() => stateOf(js1, 'js2') === 'alive', { what: 'js1 sees js2 alive again' });

    // kill -9 serf → we mark it dead.
    await stopSerf(s, 'SIGKILL');
    await waitFor(() => stateOf(js1, 's1') === 'dead', { what: 'js1 marks s1 dead', timeoutMs: 20_000 });
  });

  it('encrypted cluster: same key works, a different key does not', async () => {
    const s = await startSerf('se1', KEY);
    const good = await ourNode('jsgood', Keyring.fromBase64(KEY));
    const bad = await ourNode('jsbad', Keyring.fromBase64(OTHER_KEY));
    const plain = await ourNode('jsplain');
    expect((await good.join([`127.0.0.1:${s.port}`])).contacted).toBe(1);
    expect((await bad.join([`127.0.0.1:${s.port}`])).contacted).toBe(0);
    expect((await plain.join([`127.0.0.1:${s.port}`])).contacted).toBe(0);
    await waitFor(async () => (await serfStatus(s, 'jsgood')) === 'alive', { what: 'serf lists jsgood' });
    await waitFor(() => stateOf(good, 'se1') === 'alive', { what: 'we list se1' });
    // serf joining our encrypted node (serf-initiated encrypted push/pull) works.
    const good2 = await ourNode('jsgood2', Keyring.fromBase64(KEY));
    await run('/usr/bin/serf', ['join', `-rpc-addr=${s.rpc}`, `127.0.0.1:${good2.address.port}`], {
      timeout: 10_000,
    });
    await waitFor(() => stateOf(good2, 'se1') === 'alive' && stateOf(good2, 'jsgood') === 'alive', {
      what: 'jsgood2 sees the encrypted cluster',
    });
    // serf joining our node with a different key fails.
    const { stdout, stderr } = await run(
      '/usr/bin/serf',
      ['join', `-rpc-addr=${s.rpc}`, `127.0.0.1:${bad.address.port}`],
      { timeout: 10_000 },
    ).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${stdout}${stderr}`).toMatch(/Error|0 nodes/i);
    const names = (await serfMembers(s)).map((m) => m.name);
    expect(names).not.toContain('jsbad');
    expect(names).not.toContain('jsplain');
    expect(bad.member('se1')).toBeUndefined();
    expect(good.metrics).toBeDefined();
  });
});
