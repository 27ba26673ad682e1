import type { ReplicationCluster } from '../../../src/cluster/replication/replicator.js';
import type { GossipChannel, MemberInfo } from '../../../src/cluster/state/gossip.js';

interface Endpoint {
  handlers: Array<(payload: Buffer, from?: string) => void>;
  stateHandlers: Array<(buf: Buffer, join: boolean) => void>;
  localState?: () => Buffer;
}

/**
 * An in-memory gossip network for the replication layer: direct sends and
 * broadcasts delivered asynchronously, push/pull on demand, partitions by
 * group. One channel per node is enough for these tests.
 */
export class FakeNet {
  readonly endpoints = new Map<string, Endpoint>();
  private readonly group = new Map<string, number>();
  delivered = 0;

  cluster(name: string): ReplicationCluster {
    const ep: Endpoint = { handlers: [], stateHandlers: [] };
    this.endpoints.set(name, ep);
    this.group.set(name, 0);
    const channel: GossipChannel = {
      broadcast: (payload) => {
        for (const other of this.endpoints.keys()) if (other !== name) this.deliver(name, other, payload);
      },
      sendTo: (to, payload) => {
        this.deliver(name, to, payload);
      },
      onMessage: (cb) => ep.handlers.push(cb),
      setLocalState: (fn) => {
        ep.localState = fn;
      },
      onRemoteState: (cb) => ep.stateHandlers.push(cb),
    };
    return {
      localName: name,
      firstJoinDone: true,
      channel: () => channel,
      members: (): MemberInfo[] =>
        [...this.endpoints.keys()]
          .filter((n) => this.group.get(n) === this.group.get(name))
          .map((n) => ({ name: n, state: 'alive', tags: { http: `${n}:8080` } })),
    };
  }

  /** Splits the nodes into groups that cannot reach each other. */
  partition(groups: string[][]): void {
    groups.forEach((g, i) => {
      for (const n of g) this.group.set(n, i);
    });
  }

  heal(): void {
    for (const n of this.group.keys()) this.group.set(n, 0);
  }

  reachable(a: string, b: string): boolean {
    return this.group.get(a) === this.group.get(b);
  }

  /** Raw bytes to a node, as if from `from` (forged messages). */
  inject(to: string, payload: Buffer, from = 'mallory'): void {
    for (const h of this.endpoints.get(to)?.handlers ?? []) h(payload, from);
  }

  /** One TCP push/pull between a and b: each merges the other's state. */
  pushPull(a: string, b: string): void {
    if (!this.reachable(a, b)) return;
    const ea = this.endpoints.get(a)!;
    const eb = this.endpoints.get(b)!;
    const sa = ea.localState?.();
    const sb = eb.localState?.();
    if (sb) for (const h of ea.stateHandlers) h(sb, false);
    if (sa) for (const h of eb.stateHandlers) h(sa, false);
  }

  private deliver(from: string, to: string, payload: Buffer): void {
    if (!this.reachable(from, to)) return;
    const ep = this.endpoints.get(to);
    if (!ep) return;
    setImmediate(() => {
      if (!this.reachable(from, to)) return;
      this.delivered++;
      if (process.env.FAKE_NET_TRACE) console.log(from, '->', to, payload.toString().slice(0, 60));
      for (const h of ep.handlers) h(payload, from);
    });
  }
}
