import type { Logger } from '../observability/logger.js';
import { CHANNELS } from './channels.js';
import type { Channel } from './membership/channels.js';

/** How often unchanged figures are re-announced. */
const REFRESH_MS = 10_000;

export interface TrafficSnapshot {
  rps: number;
  in_flight: number;
  error_rate: number;
}

/**
 * Each node's request rate, in-flight count and error rate, gossiped about
 * once a second (only when changed, or every 10 s, or at once to a
 * newcomer), for the `traffic` field of /cluster/status.
 */
export class NodeTrafficGossip {
  private readonly remote = new Map<string, { t: TrafficSnapshot; at: number }>();
  private last = { json: '', at: 0 };
  private newcomer = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly channel: Channel,
    private readonly local: (() => TrafficSnapshot) | undefined,
    private readonly localName: string,
    private readonly logger: Logger,
    private readonly onUpdate: (node: string) => void = () => {},
  ) {
    channel.onMessage((payload, from) => {
      if (!from || from === localName) return;
      try {
        const t = JSON.parse(payload.toString('utf8')) as Partial<TrafficSnapshot>;
        this.remote.set(from, {
          t: {
            rps: Number(t.rps) || 0,
            in_flight: Number(t.in_flight) || 0,
            error_rate: Number(t.error_rate) || 0,
          },
          at: Date.now(),
        });
        this.onUpdate(from);
      } catch {
        // ignore malformed traffic reports
      }
    });
  }

  static channelId = CHANNELS.nodeTraffic;

  start(canPublish: () => boolean): void {
    if (!this.local) return;
    this.timer = setInterval(() => {
      if (canPublish()) this.publish();
    }, 1000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A node joined: send it our figures on the next round. */
  joined(): void {
    this.newcomer = true;
  }

  forget(node: string): void {
    this.remote.delete(node);
  }

  nodes(): IterableIterator<string> {
    return this.remote.keys();
  }

  of(node: string): TrafficSnapshot | null {
    if (node === this.localName) return this.local?.() ?? null;
    return this.remote.get(node)?.t ?? null;
  }

  private publish(): void {
    if (!this.local) return;
    try {
      const t = this.local();
      const json = JSON.stringify({ rps: t.rps, in_flight: t.in_flight, error_rate: t.error_rate });
      const now = Date.now();
      if (json === this.last.json && now - this.last.at < REFRESH_MS && !this.newcomer) return;
      this.last = { json, at: now };
      this.newcomer = false;
      this.channel.broadcast(Buffer.from(json), 'traffic');
    } catch (e) {
      this.logger.warn({ err: (e as Error).message }, 'failed to broadcast');
    }
  }
}
