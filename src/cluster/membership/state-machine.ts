import { internBytes, internString } from './intern.js';
import {
  type Alive,
  type Dead,
  encodeAlive,
  encodeDead,
  encodeSuspect,
  type PushNodeState,
  type Suspect,
} from './messages.js';
import {
  bytesToIp,
  ipToBytes,
  type MemberState,
  type NodeInfo,
  type NodeState,
  type NodeTable,
  STATE_NAME,
  snapshot,
} from './state.js';
import { suspicionTimeout } from './timings.js';

/**
 * SWIM + Lifeguard membership transitions as a pure unit: alive, suspect,
 * dead (and left), refutation of rumours about ourselves, and push/pull
 * merge. Each call changes the node table and returns what the caller must
 * do (broadcasts, events, timers to arm); nothing here touches a socket or a
 * real timer, and time comes from the injected clock. memberlist.ts applies
 * the effects; the table tests (state-machine.test.ts) check them directly,
 * as hashicorp/memberlist's state_test.go does.
 */

export type Effect =
  /** Queue this message for gossip, keyed by the node it is about (a newer one replaces it). */
  | { type: 'broadcast'; node: string; msg: Buffer; onDone?: () => void }
  /** Tell the layer above: a member joined, left/failed, changed meta, or changed state. */
  | { type: 'event'; event: 'join' | 'leave' | 'update' | 'change'; node: NodeInfo }
  /** Arm a Lifeguard suspicion timer for `node`; on expiry call `suspicionExpired(node, incarnation)`. */
  | {
      type: 'suspicion';
      node: string;
      incarnation: number;
      from: string;
      /** Independent confirmations that shrink the timeout from maxMs towards minMs. */
      k: number;
      minMs: number;
      maxMs: number;
    }
  /** We refuted a rumour about ourselves with this incarnation (health score +1, metric, log). */
  | { type: 'refuted'; incarnation: number }
  /** A member was newly marked suspect (metric, the contract's "node marked as suspect" line). */
  | { type: 'suspected'; node: string; from: string; incarnation: number }
  /** A suspicion ran out and the member is declared failed. */
  | { type: 'failed'; node: string; confirmations: number }
  /** An alive message claimed a live member's name from another address: ignored. */
  | { type: 'conflict'; node: string; ip: string; port: number; existing?: string }
  /** A finished dead/left notice that needed no broadcast: run the caller's completion. */
  | { type: 'done'; onDone: () => void };

/** What the state machine needs to know about the local node; read at each call. */
export interface LocalNode {
  readonly name: string;
  leaving(): boolean;
  meta(): Buffer;
  vsn(): Buffer;
  advertise(): { ip: string; port: number };
}

export interface StateMachineOptions {
  local: LocalNode;
  nodes: NodeTable;
  now: () => number;
  suspicionMult: number;
  suspicionMaxTimeoutMult: number;
  probeIntervalMs: number;
  /** Estimated cluster size (alive + suspect, self included) for the suspicion timeout. */
  estNumNodes: () => number;
}

const MAX_U32 = 0xffffffff;

export class MembershipStateMachine {
  /** The local node's incarnation number. */
  incarnation = 0;

  constructor(private readonly o: StateMachineOptions) {}

  nextIncarnation(): number {
    this.incarnation = (this.incarnation + 1) % (MAX_U32 + 1);
    return this.incarnation;
  }

  private setState(n: NodeState, state: MemberState): void {
    n.state = state;
    n.stateChange = this.o.now();
  }

  aliveNode(input: Alive, bootstrap: boolean): Effect[] {
    const { local, nodes } = this.o;
    const isLocal = input.node === local.name;
    if (local.leaving() && isLocal) return [];
    // Shared copies: decoded fields are views into the (possibly large) received packet, and most
    // values (versions, addresses, meta) repeat across messages and tables.
    const a: Alive = {
      ...input,
      node: internString(input.node),
      addr: internBytes(input.addr),
      meta: internBytes(input.meta),
      vsn: internBytes(input.vsn),
    };
    const ip = internString(bytesToIp(a.addr));
    let n = nodes.get(a.node);
    let isNew = false;
    if (!n) {
      n = {
        name: a.node,
        addr: a.addr,
        ip,
        port: a.port,
        meta: a.meta,
        vsn: a.vsn,
        incarnation: 0,
        state: 'dead',
        stateChange: this.o.now(),
      };
      nodes.add(n);
      isNew = true;
    } else if (n.ip !== ip || n.port !== a.port) {
      // A dead/left name may come back at a new address (restart elsewhere); a live one may not.
      const reclaimable = n.state === 'left' || (n.state === 'dead' && a.incarnation > n.incarnation);
      if (!reclaimable)
        return [
          {
            type: 'conflict',
            node: a.node,
            ip,
            port: a.port,
            existing: n.state === 'dead' ? undefined : `${n.ip}:${n.port}`,
          },
        ];
    }
    if (!isNew && !isLocal && a.incarnation <= n.incarnation) return [];
    if (isLocal && a.incarnation < n.incarnation) return [];
    n.suspicion?.cancel();
    n.suspicion = undefined;
    if (isLocal && !bootstrap) {
      if (a.incarnation === n.incarnation && a.meta.equals(local.meta()) && a.vsn.equals(local.vsn()))
        return [];
      return this.refute(n, a.incarnation);
    }
    const fx: Effect[] = [{ type: 'broadcast', node: a.node, msg: encodeAlive(a) }];
    const oldState = n.state;
    const metaChanged = !n.meta.equals(a.meta);
    n.incarnation = a.incarnation;
    n.meta = a.meta;
    n.addr = a.addr;
    n.ip = ip;
    n.port = a.port;
    if (a.vsn.length === 6) n.vsn = a.vsn;
    if (isLocal) this.incarnation = Math.max(this.incarnation, a.incarnation);
    if (oldState !== 'alive') this.setState(n, 'alive');
    if (oldState === 'dead' || oldState === 'left') fx.push(...this.events('join', n));
    else if (metaChanged) fx.push(...this.events('update', n));
    else if (oldState !== 'alive') fx.push({ type: 'event', event: 'change', node: snapshot(n) });
    return fx;
  }

  /** Answers a rumour about ourselves (suspect/dead/stale alive) with a higher incarnation. */
  private refute(self: NodeState, accused: number): Effect[] {
    let inc = this.nextIncarnation();
    if (accused >= inc) {
      this.incarnation = accused + 1;
      inc = this.incarnation;
    }
    self.incarnation = inc;
    const { ip, port } = this.o.local.advertise();
    return [
      { type: 'refuted', incarnation: inc },
      {
        type: 'broadcast',
        node: this.o.local.name,
        msg: encodeAlive({
          incarnation: inc,
          node: this.o.local.name,
          addr: ipToBytes(ip),
          port,
          meta: this.o.local.meta(),
          vsn: this.o.local.vsn(),
        }),
      },
    ];
  }

  suspectNode(s: Suspect): Effect[] {
    const n = this.o.nodes.get(s.node);
    if (!n) return [];
    if (s.incarnation < n.incarnation) return [];
    if (n.suspicion) {
      // Lifeguard: an independent confirmation shortens the timer and is passed on.
      return n.suspicion.confirm(s.from) ? [{ type: 'broadcast', node: s.node, msg: encodeSuspect(s) }] : [];
    }
    if (n.state !== 'alive') return [];
    if (s.node === this.o.local.name) return this.o.local.leaving() ? [] : this.refute(n, s.incarnation);
    n.incarnation = s.incarnation;
    this.setState(n, 'suspect');
    const size = this.o.estNumNodes();
    let k = this.o.suspicionMult - 2;
    if (size - 2 < k) k = 0;
    const minMs = suspicionTimeout(this.o.suspicionMult, size, this.o.probeIntervalMs);
    return [
      { type: 'broadcast', node: s.node, msg: encodeSuspect(s) },
      { type: 'suspected', node: s.node, from: s.from, incarnation: s.incarnation },
      {
        type: 'suspicion',
        node: s.node,
        incarnation: s.incarnation,
        from: s.from,
        k,
        minMs,
        maxMs: this.o.suspicionMaxTimeoutMult * minMs,
      },
      { type: 'event', event: 'change', node: snapshot(n) },
    ];
  }

  /** The suspicion timer armed for (node, incarnation) ran out after `confirmations`. */
  suspicionExpired(node: string, incarnation: number, confirmations: number): Effect[] {
    const cur = this.o.nodes.get(node);
    if (cur?.state !== 'suspect' || cur.incarnation !== incarnation) return [];
    return [
      { type: 'failed', node, confirmations },
      ...this.deadNode({ incarnation, node, from: this.o.local.name }),
    ];
  }

  /** Dead from another node, or left when the node says so itself (`from === node`). */
  deadNode(d: Dead, onDone?: () => void): Effect[] {
    const done: Effect[] = onDone ? [{ type: 'done', onDone }] : [];
    const n = this.o.nodes.get(d.node);
    if (!n || d.incarnation < n.incarnation) return done;
    n.suspicion?.cancel();
    n.suspicion = undefined;
    if (n.state === 'dead' || n.state === 'left') return done;
    if (d.node === this.o.local.name && !this.o.local.leaving())
      return [...this.refute(n, d.incarnation), ...done];
    n.incarnation = d.incarnation;
    this.setState(n, d.node === d.from ? 'left' : 'dead');
    return [{ type: 'broadcast', node: d.node, msg: encodeDead(d), onDone }, ...this.events('leave', n)];
  }

  /**
   * A peer's push/pull node list: alive is taken as alive, left as left, and dead or suspect
   * only ever starts a local suspicion (a peer's stale view must not kill a node outright).
   */
  mergeRemote(remote: readonly PushNodeState[]): Effect[] {
    const fx: Effect[] = [];
    for (const n of remote) {
      const state = STATE_NAME[n.state] ?? 'dead';
      if (state === 'alive') {
        if (n.vsn.length === 6 && (n.vsn[0] === 0 || n.vsn[1] === 0 || n.vsn[0]! > n.vsn[1]!)) continue;
        fx.push(
          ...this.aliveNode(
            {
              incarnation: n.incarnation,
              node: n.name,
              addr: n.addr,
              port: n.port,
              meta: n.meta,
              vsn: n.vsn,
            },
            false,
          ),
        );
      } else if (state === 'left') {
        fx.push(...this.deadNode({ incarnation: n.incarnation, node: n.name, from: n.name }));
      } else {
        fx.push(...this.suspectNode({ incarnation: n.incarnation, node: n.name, from: this.o.local.name }));
      }
    }
    return fx;
  }

  private events(event: 'join' | 'leave' | 'update', n: NodeState): Effect[] {
    return [{ type: 'event', event, node: snapshot(n) }];
  }
}
