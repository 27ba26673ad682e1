import { describe, expect, it } from 'vitest';
import { type Alive, MsgType } from '../../../src/cluster/membership/messages.js';
import { mpDecode } from '../../../src/cluster/membership/msgpack.js';
import { ipToBytes, type NodeState, NodeTable, STATE_NUM } from '../../../src/cluster/membership/state.js';
import { type Effect, MembershipStateMachine } from '../../../src/cluster/membership/state-machine.js';

/**
 * Table tests of the membership transitions, in the manner of hashicorp/memberlist's
 * state_test.go: each case sets up a node table, applies one message, and checks the
 * table, the queued broadcasts, the events and the timers the transition asked for.
 */

const VSN = Buffer.from([1, 5, 2, 2, 5, 5]);
const LOCAL = 'local';

interface Rig {
  sm: MembershipStateMachine;
  nodes: NodeTable;
  clock: { t: number };
  local: { leaving: boolean; meta: Buffer };
}

function rig(size = 5): Rig {
  const nodes = new NodeTable();
  const clock = { t: 1_000_000 };
  const local = { leaving: false, meta: Buffer.from('m') };
  const sm = new MembershipStateMachine({
    local: {
      name: LOCAL,
      leaving: () => local.leaving,
      meta: () => local.meta,
      vsn: () => VSN,
      advertise: () => ({ ip: '10.0.0.1', port: 7946 }),
    },
    nodes,
    now: () => clock.t,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    probeIntervalMs: 1000,
    estNumNodes: () => size,
  });
  sm.incarnation = 1;
  sm.aliveNode(alive(LOCAL, 1, '10.0.0.1', local.meta), true);
  return { sm, nodes, clock, local };
}

function alive(node: string, incarnation: number, ip = '10.0.0.2', meta = Buffer.alloc(0)): Alive {
  return { node, incarnation, addr: ipToBytes(ip), port: 7946, meta, vsn: VSN };
}

/** The same node table entry as memberlist's state_test.go builds by hand. */
function put(r: Rig, name: string, state: NodeState['state'], incarnation: number, ip = '10.0.0.2'): void {
  r.nodes.add({
    name,
    addr: ipToBytes(ip),
    ip,
    port: 7946,
    meta: Buffer.alloc(0),
    vsn: VSN,
    incarnation,
    state,
    stateChange: 0,
  });
}

/** A compact view of effects: broadcasts by message type and subject, events, timers. */
function summary(fx: Effect[]): string[] {
  return fx.map((e) => {
    switch (e.type) {
      case 'broadcast': {
        const type = Object.entries(MsgType).find(([, v]) => v === e.msg[0])?.[0];
        const body = mpDecode(e.msg.subarray(1)) as { Incarnation: number };
        return `broadcast ${type} ${e.node}@${body.Incarnation}`;
      }
      case 'event':
        return `event ${e.event} ${e.node.name} ${e.node.state}@${e.node.incarnation}`;
      case 'suspicion':
        return `timer suspicion ${e.node}@${e.incarnation} k=${e.k} ${e.minMs}..${e.maxMs}ms`;
      case 'refuted':
        return `refuted @${e.incarnation}`;
      case 'suspected':
        return `suspected ${e.node} by ${e.from}`;
      case 'failed':
        return `failed ${e.node}`;
      case 'conflict':
        return `conflict ${e.node} ${e.ip}`;
      case 'done':
        return 'done';
    }
    return 'unknown effect';
  });
}

const state = (r: Rig, name: string) => {
  const n = r.nodes.get(name);
  return n ? `${n.state}@${n.incarnation}` : 'absent';
};

interface Case {
  name: string;
  setup?: (r: Rig) => void;
  act: (r: Rig) => Effect[];
  expect: { effects: string[]; states: Record<string, string>; localIncarnation?: number };
}

// suspicion timeout for 5 nodes: 4 × max(1, log10 5) × 1000 ms = 4000; max = 6 × min; k = mult − 2
const TIMER = 'timer suspicion n1@1 k=2 4000..24000ms';

const cases: Case[] = [
  // ---- alive (TestMemberList_AliveNode_*)
  {
    name: 'alive: a new node is added, broadcast and announced',
    act: (r) => r.sm.aliveNode(alive('n1', 1), false),
    expect: { effects: ['broadcast alive n1@1', 'event join n1 alive@1'], states: { n1: 'alive@1' } },
  },
  {
    name: 'alive: a suspect node is revived by a newer incarnation (no join event)',
    setup: (r) => put(r, 'n1', 'suspect', 1),
    act: (r) => r.sm.aliveNode(alive('n1', 2), false),
    expect: { effects: ['broadcast alive n1@2', 'event change n1 alive@2'], states: { n1: 'alive@2' } },
  },
  {
    name: 'alive: an old or equal incarnation is ignored (idempotent)',
    setup: (r) => put(r, 'n1', 'alive', 5),
    act: (r) => [...r.sm.aliveNode(alive('n1', 5), false), ...r.sm.aliveNode(alive('n1', 4), false)],
    expect: { effects: [], states: { n1: 'alive@5' } },
  },
  {
    name: 'alive: changed meta is an update',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => r.sm.aliveNode(alive('n1', 2, '10.0.0.2', Buffer.from('new')), false),
    expect: { effects: ['broadcast alive n1@2', 'event update n1 alive@2'], states: { n1: 'alive@2' } },
  },
  {
    name: 'alive: a dead node comes back with a higher incarnation: join',
    setup: (r) => put(r, 'n1', 'dead', 3),
    act: (r) => r.sm.aliveNode(alive('n1', 4), false),
    expect: { effects: ['broadcast alive n1@4', 'event join n1 alive@4'], states: { n1: 'alive@4' } },
  },
  {
    name: 'alive: a live name claimed from another address is a conflict, not a takeover',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => r.sm.aliveNode(alive('n1', 9, '10.6.6.6'), false),
    expect: { effects: ['conflict n1 10.6.6.6'], states: { n1: 'alive@1' } },
  },
  {
    name: 'alive: a left node may come back at a new address, with a higher incarnation',
    setup: (r) => put(r, 'n1', 'left', 3),
    act: (r) => [
      ...r.sm.aliveNode(alive('n1', 3, '10.0.0.9'), false),
      ...r.sm.aliveNode(alive('n1', 4, '10.0.0.9'), false),
    ],
    expect: { effects: ['broadcast alive n1@4', 'event join n1 alive@4'], states: { n1: 'alive@4' } },
  },
  {
    name: 'alive: a stale alive about ourselves with other meta is refuted',
    act: (r) => r.sm.aliveNode(alive(LOCAL, 1, '10.0.0.1', Buffer.from('forged')), false),
    expect: {
      effects: ['refuted @2', 'broadcast alive local@2'],
      states: { [LOCAL]: 'alive@2' },
      localIncarnation: 2,
    },
  },
  {
    name: 'alive: our own current alive echoed back is ignored',
    act: (r) => r.sm.aliveNode(alive(LOCAL, 1, '10.0.0.1', Buffer.from('m')), false),
    expect: { effects: [], states: { [LOCAL]: 'alive@1' } },
  },
  // ---- suspect (TestMemberList_SuspectNode_*)
  {
    name: 'suspect: unknown node is ignored',
    act: (r) => r.sm.suspectNode({ node: 'nobody', incarnation: 1, from: 'n2' }),
    expect: { effects: [], states: { nobody: 'absent' } },
  },
  {
    name: 'suspect: an alive node becomes suspect, with a broadcast and a Lifeguard timer',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' }),
    expect: {
      effects: ['broadcast suspect n1@1', 'suspected n1 by n2', TIMER, 'event change n1 suspect@1'],
      states: { n1: 'suspect@1' },
    },
  },
  {
    name: 'suspect: an old incarnation is ignored',
    setup: (r) => put(r, 'n1', 'alive', 5),
    act: (r) => r.sm.suspectNode({ node: 'n1', incarnation: 4, from: 'n2' }),
    expect: { effects: [], states: { n1: 'alive@5' } },
  },
  {
    name: 'suspect: a dead node stays dead',
    setup: (r) => put(r, 'n1', 'dead', 1),
    act: (r) => r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' }),
    expect: { effects: [], states: { n1: 'dead@1' } },
  },
  {
    name: 'suspect: a rumour about ourselves is refuted with a higher incarnation',
    act: (r) => r.sm.suspectNode({ node: LOCAL, incarnation: 7, from: 'n2' }),
    expect: {
      effects: ['refuted @8', 'broadcast alive local@8'],
      states: { [LOCAL]: 'alive@8' },
      localIncarnation: 8,
    },
  },
  {
    name: 'suspect: while leaving we do not refute',
    setup: (r) => {
      r.local.leaving = true;
    },
    act: (r) => r.sm.suspectNode({ node: LOCAL, incarnation: 1, from: 'n2' }),
    expect: { effects: [], states: { [LOCAL]: 'alive@1' } },
  },
  // ---- dead and left (TestMemberList_DeadNode_*)
  {
    name: 'dead: unknown node is ignored',
    act: (r) => r.sm.deadNode({ node: 'nobody', incarnation: 1, from: 'n2' }),
    expect: { effects: [], states: { nobody: 'absent' } },
  },
  {
    name: 'dead: an alive node is declared dead, broadcast, leave event',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n2' }),
    expect: { effects: ['broadcast dead n1@1', 'event leave n1 dead@1'], states: { n1: 'dead@1' } },
  },
  {
    name: 'dead: from the node itself means left',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n1' }),
    expect: { effects: ['broadcast dead n1@1', 'event leave n1 left@1'], states: { n1: 'left@1' } },
  },
  {
    name: 'dead: twice is once (no second broadcast or event)',
    setup: (r) => put(r, 'n1', 'alive', 1),
    act: (r) => {
      r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n2' });
      return r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n3' });
    },
    expect: { effects: [], states: { n1: 'dead@1' } },
  },
  {
    name: 'dead: an old incarnation is ignored',
    setup: (r) => put(r, 'n1', 'alive', 3),
    act: (r) => r.sm.deadNode({ node: 'n1', incarnation: 2, from: 'n2' }),
    expect: { effects: [], states: { n1: 'alive@3' } },
  },
  {
    name: 'dead: replaying the old alive after death does not revive',
    setup: (r) => {
      put(r, 'n1', 'alive', 1);
      r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n2' });
    },
    act: (r) => r.sm.aliveNode(alive('n1', 1), false),
    expect: { effects: [], states: { n1: 'dead@1' } },
  },
  {
    name: 'dead: about ourselves is refuted',
    act: (r) => r.sm.deadNode({ node: LOCAL, incarnation: 1, from: 'n2' }),
    expect: {
      effects: ['refuted @2', 'broadcast alive local@2'],
      states: { [LOCAL]: 'alive@2' },
      localIncarnation: 2,
    },
  },
  {
    name: 'dead: our own leave while leaving is broadcast as left',
    setup: (r) => {
      r.local.leaving = true;
    },
    act: (r) => r.sm.deadNode({ node: LOCAL, incarnation: 1, from: LOCAL }),
    expect: {
      effects: ['broadcast dead local@1', 'event leave local left@1'],
      states: { [LOCAL]: 'left@1' },
    },
  },
  // ---- push/pull merge (TestMemberList_MergeState)
  {
    name: 'merge: alive is taken, left is left, dead or suspect only starts a local suspicion',
    setup: (r) => {
      put(r, 'n1', 'alive', 1);
      put(r, 'n2', 'alive', 1, '10.0.0.3');
      put(r, 'n3', 'alive', 1, '10.0.0.4');
    },
    act: (r) =>
      r.sm.mergeRemote([
        {
          name: 'n1',
          addr: ipToBytes('10.0.0.2'),
          port: 7946,
          meta: Buffer.alloc(0),
          incarnation: 1,
          state: STATE_NUM.dead,
          vsn: VSN,
        },
        {
          name: 'n2',
          addr: ipToBytes('10.0.0.3'),
          port: 7946,
          meta: Buffer.alloc(0),
          incarnation: 1,
          state: STATE_NUM.left,
          vsn: VSN,
        },
        {
          name: 'n4',
          addr: ipToBytes('10.0.0.5'),
          port: 7946,
          meta: Buffer.alloc(0),
          incarnation: 3,
          state: STATE_NUM.alive,
          vsn: VSN,
        },
        {
          name: 'n5',
          addr: ipToBytes('10.0.0.6'),
          port: 7946,
          meta: Buffer.alloc(0),
          incarnation: 1,
          state: STATE_NUM.alive,
          vsn: Buffer.from([0, 0, 0, 0, 0, 0]),
        },
      ]),
    expect: {
      effects: [
        'broadcast suspect n1@1',
        'suspected n1 by local',
        TIMER,
        'event change n1 suspect@1',
        'broadcast dead n2@1',
        'event leave n2 left@1',
        'broadcast alive n4@3',
        'event join n4 alive@3',
      ],
      states: { n1: 'suspect@1', n2: 'left@1', n3: 'alive@1', n4: 'alive@3', n5: 'absent' },
    },
  },
];

describe('membership state machine (table)', () => {
  for (const c of cases)
    it(c.name, () => {
      const r = rig();
      c.setup?.(r);
      const fx = c.act(r);
      expect(summary(fx)).toEqual(c.expect.effects);
      for (const [name, s] of Object.entries(c.expect.states)) expect(state(r, name), name).toBe(s);
      if (c.expect.localIncarnation !== undefined) expect(r.sm.incarnation).toBe(c.expect.localIncarnation);
    });

  it('a second suspicion from another node confirms the first and is passed on; the same node is not', () => {
    const r = rig();
    put(r, 'n1', 'alive', 1);
    r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' });
    const confirms: string[] = [];
    r.nodes.get('n1')!.suspicion = {
      confirm: (from: string) => {
        confirms.push(from);
        return from !== 'n2';
      },
      cancel: () => undefined,
    } as unknown as NodeState['suspicion'];
    expect(summary(r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n3' }))).toEqual([
      'broadcast suspect n1@1',
    ]);
    expect(summary(r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' }))).toEqual([]);
    expect(confirms).toEqual(['n3', 'n2']);
  });

  it('the suspicion timer, when it runs out, fails the node only if nothing changed meanwhile', () => {
    const r = rig();
    put(r, 'n1', 'alive', 1);
    r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' });
    r.clock.t += 24_000;
    expect(summary(r.sm.suspicionExpired('n1', 1, 0))).toEqual([
      'failed n1',
      'broadcast dead n1@1',
      'event leave n1 dead@1',
    ]);
    expect(r.nodes.get('n1')!.stateChange).toBe(r.clock.t);
    // refuted in time: the stale timer does nothing
    const r2 = rig();
    put(r2, 'n1', 'alive', 1);
    r2.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' });
    r2.sm.aliveNode(alive('n1', 2), false);
    expect(summary(r2.sm.suspicionExpired('n1', 1, 0))).toEqual([]);
    expect(state(r2, 'n1')).toBe('alive@2');
  });

  it('an alive that supersedes a suspicion cancels its timer', () => {
    const r = rig();
    put(r, 'n1', 'alive', 1);
    r.sm.suspectNode({ node: 'n1', incarnation: 1, from: 'n2' });
    let cancelled = false;
    r.nodes.get('n1')!.suspicion = {
      confirm: () => false,
      cancel: () => {
        cancelled = true;
      },
    } as unknown as NodeState['suspicion'];
    r.sm.aliveNode(alive('n1', 2), false);
    expect(cancelled).toBe(true);
    expect(r.nodes.get('n1')!.suspicion).toBeUndefined();
  });

  it('a dead notice that needs no broadcast still completes its caller', () => {
    const r = rig();
    let done = 0;
    const fx = r.sm.deadNode({ node: 'nobody', incarnation: 1, from: 'x' }, () => {
      done++;
    });
    expect(summary(fx)).toEqual(['done']);
    put(r, 'n1', 'alive', 1);
    const fx2 = r.sm.deadNode({ node: 'n1', incarnation: 1, from: 'n1' }, () => undefined);
    expect(fx2[0]).toMatchObject({ type: 'broadcast', onDone: expect.any(Function) });
    for (const e of fx) if (e.type === 'done') e.onDone();
    expect(done).toBe(1);
  });
});
