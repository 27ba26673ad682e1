/**
 * Failure-detection bench: DeepIntShield memberlist vs the serf agent, both with LAN timings on
 * loopback. N members; one is killed (sockets closed / SIGKILL) and we time until every survivor
 * reports it dead (ours) / failed (serf). Also times a graceful leave.
 *
 *   npx tsx bench/membership-failure.ts [N=5] [rounds=2]
 *
 * Only 127.0.0.1 is used; every serf process is started here and stopped by its PID.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pino from 'pino';
import { Memberlist } from '../src/cluster/membership/memberlist.js';
import { encodeTags } from '../src/cluster/membership/serf.js';
import { PROFILES } from '../src/cluster/membership/timings.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return Date.now() - start;
    await sleep(50);
  }
  return Number.NaN;
}

async function oursRound(): Promise<{ fail: number; leave: number }> {
  const logger = pino({ level: 'silent' });
  const nodes: Memberlist[] = [];
  for (let i = 0; i < N; i++) {
    const port = await freePort();
    const m = new Memberlist({
      name: `ml${i}`,
      bindAddress: '127.0.0.1',
      bindPort: port,
      timings: PROFILES.lan,
      meta: encodeTags({}),
      logger,
    });
    await m.start();
    if (i > 0) await m.join([`127.0.0.1:${nodes[0]!.address.port}`]);
    nodes.push(m);
  }
  await until(() => nodes.every((m) => m.numAlive() === N), 10_000);
  await sleep(1500);
  const victim = nodes[N - 1]!;
  await victim.shutdown();
  const survivors = nodes.slice(0, N - 1);
  const fail = await until(() => survivors.every((m) => m.member(victim.name)?.state === 'dead'), 60_000);
  const leaver = survivors[survivors.length - 1]!;
  const rest = survivors.slice(0, -1);
  const seenP = until(() => rest.every((m) => m.member(leaver.name)?.state === 'left'), 10_000);
  const t0 = Date.now();
  await leaver.leave(5000);
  const leaveCall = Date.now() - t0;
  const seen = await seenP;
  const leave = Math.max(leaveCall, seen);
  await Promise.all(nodes.map((m) => m.shutdown()));
  return { fail, leave };
}

interface Agent {
  proc: ChildProcess;
  port: number;
  rpc: string;
}

async function serfMembers(a: Agent): Promise<{ name: string; status: string }[]> {
  const { stdout } = await run('/usr/bin/serf', ['members', `-rpc-addr=${a.rpc}`, '-format=json'], {
    timeout: 5000,
  });
  return (JSON.parse(stdout) as { members: { name: string; status: string }[] }).members;
}

async function serfRound(): Promise<{ fail: number; leave: number }> {
  const agents: Agent[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const port = await freePort();
      const rpcPort = await freePort();
      const proc = spawn(
        '/usr/bin/serf',
        ['agent', `-node=sf${i}`, `-bind=127.0.0.1:${port}`, `-rpc-addr=127.0.0.1:${rpcPort}`],
        { stdio: 'ignore' },
      );
      const a = { proc, port, rpc: `127.0.0.1:${rpcPort}` };
      agents.push(a);
      await until(
        () =>
          serfMembers(a).then(
            () => true,
            () => false,
          ),
        10_000,
      );
      if (i > 0) await run('/usr/bin/serf', ['join', `-rpc-addr=${a.rpc}`, `127.0.0.1:${agents[0]!.port}`]);
    }
    await until(
      async () => (await serfMembers(agents[0]!)).filter((m) => m.status === 'alive').length === N,
      10_000,
    );
    await sleep(1500);
    const victim = agents[N - 1]!;
    victim.proc.kill('SIGKILL');
    const survivors = agents.slice(0, N - 1);
    const fail = await until(async () => {
      const views = await Promise.all(survivors.map(serfMembers));
      return views.every((v) => v.find((m) => m.name === `sf${N - 1}`)?.status === 'failed');
    }, 60_000);
    const leaver = survivors[survivors.length - 1]!;
    const t0 = Date.now();
    await run('/usr/bin/serf', ['leave', `-rpc-addr=${leaver.rpc}`]);
    const name = `sf${survivors.length - 1}`;
    await until(async () => {
      const views = await Promise.all(survivors.slice(0, -1).map(serfMembers));
      return views.every((v) => v.find((m) => m.name === name)?.status === 'left');
    }, 10_000);
    return { fail, leave: Date.now() - t0 };
  } finally {
    for (const a of agents)
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
  }
}

/** Mixed cluster (2 serf agents + 2 of ours, LAN): each side detecting the other's crash and leave. */
async function mixedRound(): Promise<{ fail: number; leave: number; serfSeesOurCrash: number }> {
  const logger = pino({ level: 'silent' });
  const agents: Agent[] = [];
  const ours: Memberlist[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const rpcPort = await freePort();
      const proc = spawn(
        '/usr/bin/serf',
        ['agent', `-node=mx${i}`, `-bind=127.0.0.1:${port}`, `-rpc-addr=127.0.0.1:${rpcPort}`],
        { stdio: 'ignore' },
      );
      const a = { proc, port, rpc: `127.0.0.1:${rpcPort}` };
      agents.push(a);
      await until(
        () =>
          serfMembers(a).then(
            () => true,
            () => false,
          ),
        10_000,
      );
    }
    for (let i = 0; i < 2; i++) {
      const m = new Memberlist({
        name: `mo${i}`,
        bindAddress: '127.0.0.1',
        bindPort: await freePort(),
        timings: PROFILES.lan,
        meta: encodeTags({}),
        logger,
      });
      await m.start();
      await m.join(agents.map((a) => `127.0.0.1:${a.port}`));
      ours.push(m);
    }
    await until(() => ours.every((m) => m.numAlive() === 4), 10_000);
    await sleep(1500);
    // Our crash seen by serf.
    const t1 = Date.now();
    await ours[1]!.shutdown();
    await until(
      async () => (await serfMembers(agents[0]!)).find((m) => m.name === 'mo1')?.status === 'failed',
      60_000,
    );
    const serfSeesOurCrash = Date.now() - t1;
    // serf crash seen by us.
    const t2 = Date.now();
    agents[1]!.proc.kill('SIGKILL');
    await until(() => ours[0]!.member('mx1')?.state === 'dead', 60_000);
    const fail = Date.now() - t2;
    // Our leave seen by serf as left.
    const t3 = Date.now();
    const seen = until(
      async () => (await serfMembers(agents[0]!)).find((m) => m.name === 'mo0')?.status === 'left',
      10_000,
    );
    await ours[0]!.leave(5000);
    await seen;
    return { fail, leave: Date.now() - t3, serfSeesOurCrash };
  } finally {
    await Promise.all(ours.map((m) => m.shutdown()));
    for (const a of agents)
      if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill('SIGKILL');
  }
}

const results: { impl: string; round: number; fail: number; leave: number }[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  results.push({ impl: 'deepintshield', round: r, ...(await oursRound()) });
  results.push({ impl: 'serf 0.9.4', round: r, ...(await serfRound()) });
}
console.log(
  `N=${N}, LAN profile, loopback. fail = kill → every survivor reports dead/failed; leave = leave call → others show left.`,
);
console.table(
  results.map((x) => ({
    ...x,
    fail: `${(x.fail / 1000).toFixed(2)} s`,
    leave: `${(x.leave / 1000).toFixed(2)} s`,
  })),
);
const mixed = await mixedRound();
console.log(
  `mixed cluster (2 serf + 2 ours, LAN): serf reports our crash as failed after ${(mixed.serfSeesOurCrash / 1000).toFixed(2)} s; ` +
    `we report a SIGKILLed serf dead after ${(mixed.fail / 1000).toFixed(2)} s; ` +
    `serf shows our graceful leave as left after ${(mixed.leave / 1000).toFixed(2)} s`,
);
