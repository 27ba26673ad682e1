/**
 * Failure-detection bench: DeepIntShield vs the serf agent, N real processes of each on loopback with
 * memberlist's LAN timings. One member is killed with SIGKILL and we time, from the kill, until each
 * survivor suspects it and until each survivor declares it dead (ours: the node's own log lines
 * "node marked as suspect" / "member failed", with pino's timestamps; serf: its log lines
 * "Suspect X has failed" / "EventMemberFailed", stamped on arrival). Then one member leaves
 * gracefully (SIGTERM / `serf leave`) and we time until every other member shows it left.
 *
 *   npm run build && npx tsx bench/membership-failure.ts [N=10] [rounds=10]
 *
 * serf logs a suspicion only on the member whose own probe failed (others learn it silently), so
 * for serf "suspect" is the first suspicion; ours reports first and on-all.
 * Only 127.0.0.1 is used; every process is started here and stopped by its PID.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pino from 'pino';
import { Memberlist } from '../src/cluster/membership/memberlist.js';
import { encodeTags } from '../src/cluster/membership/serf.js';
import { PROFILES } from '../src/cluster/membership/timings.js';
import { logTimeMs, NodeProcess } from '../test/support/node-process.js';
import { freePorts } from '../test/support/ports.js';
import { waitFor } from '../test/support/wait.js';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 10);
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

interface Round {
  /** First survivor to suspect the victim, ms after the kill. */
  suspectFirst: number;
  /** Last survivor to suspect it (NaN where not observable). */
  suspectAll: number;
  deadFirst: number;
  deadAll: number;
  leave: number;
}

const min = (xs: number[]) => Math.min(...xs);
const max = (xs: number[]) => Math.max(...xs);

async function oursRound(): Promise<Round> {
  const ports = await freePorts(2 * N);
  const nodes = Array.from(
    { length: N },
    (_, i) =>
      new NodeProcess({
        config: {
          server: {
            host: '127.0.0.1',
            port: ports[N + i],
            drain_accept_seconds: 0,
            drain_timeout_seconds: 2,
          },
          cluster_config: {
            enabled: true,
            node_name: `ml${i}`,
            bind_address: '127.0.0.1',
            peers: i === 0 ? [] : [`127.0.0.1:${ports[0]}`],
            gossip: { port: ports[i] },
          },
        },
      }),
  );
  try {
    for (const n of nodes) n.start();
    await Promise.all(nodes.map((n) => n.waitReady(60_000)));
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.members === N),
      { timeoutMs: 60_000, what: `${N} members everywhere` },
    );
    await sleep(1500);
    const victim = nodes[N - 1]!;
    const name = `ml${N - 1}`;
    const survivors = nodes.slice(0, N - 1);
    victim.signal('SIGKILL');
    const killedAt = Date.now();
    const logTime = (n: NodeProcess, msg: string) => {
      const l = n.logs.find((x) => x.msg === msg && x.node === name);
      return l ? logTimeMs(l) : undefined;
    };
    await waitFor(() => survivors.every((n) => logTime(n, 'member failed') !== undefined), {
      timeoutMs: 60_000,
      what: 'dead on every survivor',
    });
    const suspect = survivors.map((n) => (logTime(n, 'node marked as suspect') ?? Number.NaN) - killedAt);
    const dead = survivors.map((n) => logTime(n, 'member failed')! - killedAt);
    const leaver = survivors[survivors.length - 1]!;
    const leaverName = `ml${N - 2}`;
    const rest = survivors.slice(0, -1);
    leaver.signal('SIGTERM');
    const leftAt = Date.now();
    await waitFor(
      () => rest.every((n) => n.logs.some((l) => l.msg === 'member left' && l.node === leaverName)),
      {
        timeoutMs: 20_000,
        what: 'left on every other node',
      },
    );
    const left = rest.map((n) =>
      logTimeMs(n.logs.find((l) => l.msg === 'member left' && l.node === leaverName)!),
    );
    return {
      suspectFirst: min(suspect),
      suspectAll: max(suspect),
      deadFirst: min(dead),
      deadAll: max(dead),
      leave: max(left) - leftAt,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.destroy()));
  }
}

interface Agent {
  proc: ChildProcess;
  port: number;
  rpc: string;
  /** Log lines with their arrival time. */
  lines: { t: number; line: string }[];
}

async function serfMembers(a: Agent): Promise<{ name: string; status: string }[]> {
  const { stdout } = await run('/usr/bin/serf', ['members', `-rpc-addr=${a.rpc}`, '-format=json'], {
    timeout: 5000,
  });
  return (JSON.parse(stdout) as { members: { name: string; status: string }[] }).members;
}

function spawnAgent(name: string, port: number, rpcPort: number): Agent {
  const proc = spawn(
    '/usr/bin/serf',
    [
      'agent',
      `-node=${name}`,
      `-bind=127.0.0.1:${port}`,
      `-rpc-addr=127.0.0.1:${rpcPort}`,
      '-log-level=info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const a: Agent = { proc, port, rpc: `127.0.0.1:${rpcPort}`, lines: [] };
  let buf = '';
  const onData = (d: Buffer) => {
    const t = Date.now();
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const line of parts) a.lines.push({ t, line });
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  return a;
}

async function serfRound(): Promise<Round> {
  const agents: Agent[] = [];
  try {
    for (let i = 0; i < N; i++) {
      const a = spawnAgent(`sf${i}`, await freePort(), await freePort());
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
    await until(async () => {
      const views = await Promise.all(agents.map(serfMembers));
      return views.every((v) => v.filter((m) => m.status === 'alive').length === N);
    }, 30_000);
    await sleep(1500);
    const victim = agents[N - 1]!;
    const name = `sf${N - 1}`;
    const survivors = agents.slice(0, N - 1);
    victim.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const lineTime = (a: Agent, re: RegExp) => a.lines.find((l) => re.test(l.line))?.t;
    const failedRe = new RegExp(`EventMemberFailed: ${name} `);
    const suspectRe = new RegExp(`Suspect ${name} has failed`);
    await until(() => survivors.every((a) => lineTime(a, failedRe) !== undefined), 60_000);
    const dead = survivors.map((a) => (lineTime(a, failedRe) ?? Number.NaN) - killedAt);
    const suspect = survivors
      .map((a) => lineTime(a, suspectRe))
      .filter((t): t is number => t !== undefined)
      .map((t) => t - killedAt);
    const leaver = survivors[survivors.length - 1]!;
    const leaverName = `sf${N - 2}`;
    const rest = survivors.slice(0, -1);
    const leftRe = new RegExp(`EventMemberLeave: ${leaverName} `);
    const leftAt = Date.now();
    await run('/usr/bin/serf', ['leave', `-rpc-addr=${leaver.rpc}`]);
    await until(() => rest.every((a) => lineTime(a, leftRe) !== undefined), 20_000);
    return {
      suspectFirst: suspect.length ? min(suspect) : Number.NaN,
      suspectAll: Number.NaN,
      deadFirst: min(dead),
      deadAll: max(dead),
      leave: max(rest.map((a) => lineTime(a, leftRe) ?? Number.NaN)) - leftAt,
    };
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
      const a = spawnAgent(`mx${i}`, await freePort(), await freePort());
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

const sec = (ms: number) => (Number.isNaN(ms) ? '–' : `${(ms / 1000).toFixed(2)} s`);
const results: ({ impl: string; round: number } & Round)[] = [];
for (let r = 1; r <= ROUNDS; r++) {
  results.push({ impl: 'deepintshield', round: r, ...(await oursRound()) });
  results.push({ impl: 'serf', round: r, ...(await serfRound()) });
}
console.log(
  `N=${N} processes per implementation, LAN timings, loopback, ${ROUNDS} rounds. Times from the SIGKILL ` +
    '(suspect/dead) or from the leave (leave → every other member shows left).',
);
console.table(
  results.map((x) => ({
    impl: x.impl,
    round: x.round,
    suspect_first: sec(x.suspectFirst),
    suspect_all: sec(x.suspectAll),
    dead_first: sec(x.deadFirst),
    dead_all: sec(x.deadAll),
    leave: sec(x.leave),
  })),
);
const median = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};
const worst = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length ? Math.max(...v) : Number.NaN;
};
const summary = ['deepintshield', 'serf'].map((impl) => {
  const rs = results.filter((x) => x.impl === impl);
  const col = (k: keyof Round) => rs.map((x) => x[k]);
  return {
    impl,
    'suspect_first median/max': `${sec(median(col('suspectFirst')))} / ${sec(worst(col('suspectFirst')))}`,
    'suspect_all median/max': `${sec(median(col('suspectAll')))} / ${sec(worst(col('suspectAll')))}`,
    'dead_all median/max': `${sec(median(col('deadAll')))} / ${sec(worst(col('deadAll')))}`,
    'leave median/max': `${sec(median(col('leave')))} / ${sec(worst(col('leave')))}`,
  };
});
console.table(summary);
const mixed = await mixedRound();
console.log(
  `mixed cluster (2 serf + 2 ours in-process, LAN): serf reports our crash as failed after ${(mixed.serfSeesOurCrash / 1000).toFixed(2)} s; ` +
    `we report a SIGKILLed serf dead after ${(mixed.fail / 1000).toFixed(2)} s; ` +
    `serf shows our graceful leave as left after ${(mixed.leave / 1000).toFixed(2)} s`,
);
