import type { Logger } from '../../observability/logger.js';
import type { Delegate, Memberlist } from './memberlist.js';
import { MsgpackError, mpDecode, mpEncode } from './msgpack.js';

/** First byte of every user payload / push-pull state blob of ours (serf uses 0..9). */
export const CHANNEL_MAGIC = 0xd5;

export type MessageHandler = (payload: Buffer, fromNodeName?: string) => void;
export type StateHandler = (buf: Buffer, join: boolean) => void;

export interface Channel {
  readonly id: number;
  /** Queued, piggybacked on gossip and retransmitted. `key`: a newer broadcast with the same key replaces an older one. */
  broadcast(payload: Buffer, key?: string): void;
  /** Direct to one node: UDP user message if small, else a TCP user message. */
  sendTo(nodeName: string, payload: Buffer): Promise<void>;
  onMessage(cb: MessageHandler): () => void;
  /** Contributes this channel's part of the push/pull user state. */
  setLocalState(fn: () => Buffer): void;
  onRemoteState(cb: StateHandler): () => void;
}

interface ChannelImpl extends Channel {
  handlers: Set<MessageHandler>;
  stateHandlers: Set<StateHandler>;
  localState: (() => Buffer) | undefined;
}

/**
 * Multiplexes memberlist user messages and push/pull user state into numbered channels.
 * User payload: 0xD5, channel id, sender name length (1 B), sender name, sequence number (uint32 BE, for
 * de-duplication of retransmitted broadcasts), payload.
 * User state: 0xD5 + msgpack map {channelId: bytes}. Anything else (e.g. serf's own messages) is ignored.
 */
export class ChannelMux implements Delegate {
  private readonly channels = new Map<number, ChannelImpl>();
  private ml: Memberlist | undefined;
  /** Random start so a restarted node's messages are not taken for duplicates. */
  private seq = Math.floor(Math.random() * 0x100000000);
  /** Recently seen (sender, seq) pairs: retransmitted broadcasts are delivered once. */
  private readonly seen = new Map<string, Set<number>>();

  constructor(
    private readonly localName: string,
    private readonly log: Logger,
  ) {}

  attach(ml: Memberlist): void {
    this.ml = ml;
  }

  private frame(id: number, payload: Buffer): Buffer {
    const name = Buffer.from(this.localName, 'utf8');
    if (name.length > 255) throw new Error('node name too long');
    this.seq = (this.seq + 1) >>> 0;
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(this.seq);
    return Buffer.concat([Buffer.from([CHANNEL_MAGIC, id, name.length]), name, seq, payload]);
  }

  channel(id: number): Channel {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new Error('channel id must be 0..255');
    const existing = this.channels.get(id);
    if (existing) return existing;
    const ch: ChannelImpl = {
      id,
      handlers: new Set(),
      stateHandlers: new Set(),
      localState: undefined,
      broadcast: (payload, key) => {
        if (!this.ml) throw new Error('cluster not started');
        this.ml.queueUserBroadcast(this.frame(id, payload), key === undefined ? undefined : `ch${id}:${key}`);
      },
      sendTo: async (nodeName, payload) => {
        if (!this.ml) throw new Error('cluster not started');
        await this.ml.sendUserMsg(nodeName, this.frame(id, payload));
      },
      onMessage: (cb) => {
        ch.handlers.add(cb);
        return () => ch.handlers.delete(cb);
      },
      setLocalState: (fn) => {
        ch.localState = fn;
      },
      onRemoteState: (cb) => {
        ch.stateHandlers.add(cb);
        return () => ch.stateHandlers.delete(cb);
      },
    };
    this.channels.set(id, ch);
    return ch;
  }

  notifyMsg(buf: Buffer): void {
    if (buf.length < 3 || buf[0] !== CHANNEL_MAGIC) return;
    const id = buf[1]!;
    const nlen = buf[2]!;
    if (buf.length < 7 + nlen) return;
    const from = nlen > 0 ? buf.subarray(3, 3 + nlen).toString('utf8') : undefined;
    const seq = buf.readUInt32BE(3 + nlen);
    const payload = buf.subarray(7 + nlen);
    const ch = this.channels.get(id);
    if (!ch) return;
    if (from !== undefined && this.isDuplicate(from, seq)) return;
    for (const h of ch.handlers) {
      try {
        h(payload, from);
      } catch (e) {
        this.log.warn({ channel: id, err: (e as Error).message }, 'channel message handler failed');
      }
    }
  }

  private isDuplicate(from: string, seq: number): boolean {
    let set = this.seen.get(from);
    if (!set) {
      if (this.seen.size >= 4096) this.seen.delete(this.seen.keys().next().value!);
      set = new Set();
      this.seen.set(from, set);
    }
    if (set.has(seq)) return true;
    set.add(seq);
    if (set.size > 1024) set.delete(set.values().next().value!);
    return false;
  }

  localState(_join: boolean): Buffer {
    const m = new Map<number, Buffer>();
    for (const ch of this.channels.values()) {
      if (!ch.localState) continue;
      try {
        m.set(ch.id, ch.localState());
      } catch (e) {
        this.log.warn({ channel: ch.id, err: (e as Error).message }, 'channel local state failed');
      }
    }
    if (m.size === 0) return Buffer.alloc(0);
    return Buffer.concat([Buffer.from([CHANNEL_MAGIC]), mpEncode(m)]);
  }

  mergeRemoteState(buf: Buffer, join: boolean): void {
    if (buf.length < 2 || buf[0] !== CHANNEL_MAGIC) return;
    let decoded: unknown;
    try {
      decoded = mpDecode(buf.subarray(1));
    } catch (e) {
      if (e instanceof MsgpackError) return;
      throw e;
    }
    if (!(decoded instanceof Map)) return;
    for (const [k, v] of decoded) {
      if (typeof k !== 'number' || !Buffer.isBuffer(v)) continue;
      const ch = this.channels.get(k);
      if (!ch) continue;
      for (const h of ch.stateHandlers) {
        try {
          h(v, join);
        } catch (e) {
          this.log.warn({ channel: k, err: (e as Error).message }, 'channel state handler failed');
        }
      }
    }
  }
}
