import { isIPv4, isIPv6 } from 'node:net';
import type { Suspicion } from './suspicion.js';

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export const STATE_NUM: Record<MemberState, number> = { alive: 0, suspect: 1, dead: 2, left: 3 };
export const STATE_NAME: MemberState[] = ['alive', 'suspect', 'dead', 'left'];

export interface NodeState {
  name: string;
  /** Raw network-order IP (4 or 16 bytes). */
  addr: Buffer;
  /** Text form of addr. */
  ip: string;
  port: number;
  meta: Buffer;
  /** [PMin, PMax, PCur, DMin, DMax, DCur]. */
  vsn: Buffer;
  incarnation: number;
  state: MemberState;
  /** Date.now() of the last state change. */
  stateChange: number;
  suspicion?: Suspicion;
}

/** A read-only snapshot of a node for the rest of the process. */
export interface NodeInfo {
  name: string;
  ip: string;
  port: number;
  /** Read-only. */
  meta: Buffer;
  vsn: number[];
  incarnation: number;
  state: MemberState;
  stateChange: number;
}

export function snapshot(n: NodeState): NodeInfo {
  return {
    name: n.name,
    ip: n.ip,
    port: n.port,
    // Shared, not copied: a node's meta buffer is replaced on change, never written in place.
    meta: n.meta,
    vsn: [...n.vsn],
    incarnation: n.incarnation,
    state: n.state,
    stateChange: n.stateChange,
  };
}

export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map((x) => Number(x)));
  if (isIPv6(ip)) {
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (v4) return ipToBytes(v4[1]!);
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => {
      out.writeUInt16BE(Number.parseInt(g || '0', 16), i * 2);
    });
    return out;
  }
  throw new Error(`not an IP address: ${ip}`);
}

export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    // IPv4-mapped IPv6 → dotted IPv4 (Go's net.IP does the same).
    if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
      return bytesToIp(b.subarray(12));
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  }
  throw new Error('bad IP length');
}

/** The node table: a map by name plus a list in probe order. */
export class NodeTable {
  readonly byName = new Map<string, NodeState>();
  list: NodeState[] = [];

  get(name: string): NodeState | undefined {
    return this.byName.get(name);
  }

  /** Adds at a random position (swapping the occupant to the end, O(1)) so probe order differs between nodes. */
  add(n: NodeState): void {
    this.byName.set(n.name, n);
    this.list.push(n);
    const last = this.list.length - 1;
    const i = Math.floor(Math.random() * (last + 1));
    [this.list[i], this.list[last]] = [this.list[last]!, this.list[i]!];
  }

  remove(name: string): void {
    this.byName.delete(name);
    this.list = this.list.filter((n) => n.name !== name);
  }

  shuffle(): void {
    for (let i = this.list.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [this.list[i], this.list[j]] = [this.list[j]!, this.list[i]!];
    }
  }

  get size(): number {
    return this.byName.size;
  }

  count(pred: (n: NodeState) => boolean): number {
    let c = 0;
    for (const n of this.byName.values()) if (pred(n)) c++;
    return c;
  }

  findByAddr(ip: string, port: number): NodeState | undefined {
    for (const n of this.byName.values()) if (n.port === port && n.ip === ip) return n;
    return undefined;
  }
}
