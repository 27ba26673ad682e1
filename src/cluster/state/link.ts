import type { GossipChannel } from './gossip.js';
import type { PeerTracker } from './peers.js';
import { encodeCounterMessages, type WireMsg, type WireWin } from './wire.js';

/** Single counter messages stay under this size (one UDP datagram with the gossip framing). */
const MAX_PAYLOAD = 900;

/**
 * The counters' side of the gossip channel: encodes windows into messages and
 * sends them to one peer or to every peer not known gone, best effort (a lost
 * message is repaired by the next change, a re-ask or push/pull). Counts what
 * it sends for tests and metrics.
 */
export class CounterLink {
  readonly stats = { sent: 0, received: 0, bytesSent: 0 };
  private channel: GossipChannel | undefined;

  constructor(
    private readonly peers: PeerTracker,
    private readonly header: () => Omit<WireMsg, 'w' | 'f'>,
  ) {}

  attach(channel: GossipChannel): void {
    this.channel = channel;
  }

  get attached(): boolean {
    return this.channel !== undefined;
  }

  /** Messages of at most MAX_PAYLOAD bytes carrying `entries` (`full`: our whole state). */
  encode(entries: WireWin[], full = false): Buffer[] {
    return encodeCounterMessages(this.header(), entries, full, MAX_PAYLOAD);
  }

  /** Asks a peer for its full state (a message with no windows). */
  hello(): Buffer[] {
    return encodeCounterMessages({ ...this.header(), q: 1 }, [], false, MAX_PAYLOAD);
  }

  /** One message for push/pull state, which travels over TCP, however large. */
  encodeState(entries: WireWin[]): Buffer {
    return encodeCounterMessages(this.header(), entries, true, Number.POSITIVE_INFINITY)[0]!;
  }

  sendTo(peer: string, payloads: readonly Buffer[]): void {
    const ch = this.channel;
    if (!ch) return;
    for (const p of payloads) this.sendOne(ch, peer, p);
  }

  /**
   * To every peer not known gone. `asks`: the payloads ask for echoes, and a peer that leaves the ask
   * unanswered becomes unreachable (PeerTracker.asked).
   */
  sendAll(payloads: readonly Buffer[], asks: boolean, now: number): void {
    const ch = this.channel;
    if (!ch) return;
    for (const payload of payloads)
      for (const p of this.peers.values()) {
        if (p.state === 'left' || p.state === 'dead') continue;
        if (asks) this.peers.asked(p, now);
        this.sendOne(ch, p.name, payload);
      }
  }

  private sendOne(ch: GossipChannel, peer: string, payload: Buffer): void {
    this.stats.sent++;
    this.stats.bytesSent += payload.length;
    try {
      const r = ch.sendTo(peer, payload);
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => undefined);
    } catch {
      /* best effort: the next change or re-ask resends */
    }
  }
}
