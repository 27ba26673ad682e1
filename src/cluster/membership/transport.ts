import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Decoded, MsgpackIncomplete, mpDecodeAt } from './msgpack.js';

export class TimeoutError extends Error {}

/** Thrown when a stream would buffer more than its own or the shared limit allows. */
export class StreamLimitError extends Error {}

/**
 * Bytes that all inbound streams together may hold beyond their small read
 * window: a peer that declares a 20 MiB push/pull must win a share of this
 * first, so 64 such streams cannot take 1.3 GB between them.
 */
export class ByteBudget {
  private used = 0;
  constructor(readonly limit: number) {}

  tryTake(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

/** Bytes a reader buffers ahead of what it has been asked for before it pauses its source. */
export const READ_WINDOW = 64 * 1024;

/**
 * Reads a TCP stream (or a fully buffered message) piece by piece: bytes or whole msgpack values,
 * waiting for more data when a value is incomplete. Bounded by `maxBytes`, a deadline and an
 * optional shared budget. Chunks are kept as they arrive and joined once per read (never re-copied
 * per chunk), and the socket is paused once the reader holds more than the current read needs.
 */
export class StreamReader {
  private chunks: Buffer[] = [];
  /** Offset of the first unread byte in chunks[0]. */
  private head = 0;
  private available = 0;
  /** Bytes the pending read needs buffered. */
  private demand = 0;
  private reserved = 0;
  private ended: boolean;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly source: Duplex | undefined;

  constructor(
    source: Duplex | Buffer,
    private readonly maxBytes: number,
    deadlineMs?: number,
    private readonly budget?: ByteBudget,
  ) {
    if (Buffer.isBuffer(source)) {
      this.chunks = [source];
      this.available = source.length;
      this.ended = true;
      return;
    }
    this.source = source;
    this.ended = false;
    source.on('data', (d: Buffer) => {
      this.total += d.length;
      if (this.total > maxBytes) {
        this.fail(new StreamLimitError('stream too large'));
        source.destroy();
        return;
      }
      this.chunks.push(d);
      this.available += d.length;
      if (this.available > Math.max(READ_WINDOW, this.demand)) source.pause();
      if (this.available >= this.demand) this.notify();
    });
    const onEnd = () => {
      this.ended = true;
      this.notify();
    };
    source.on('end', onEnd);
    source.on('close', () => {
      onEnd();
      this.release();
    });
    source.on('error', (e) => this.fail(e));
    if (deadlineMs !== undefined) {
      this.timer = setTimeout(() => {
        this.fail(new TimeoutError('timeout waiting for response'));
        source.destroy();
      }, deadlineMs);
      this.timer.unref?.();
      source.once('close', () => clearTimeout(this.timer));
    }
  }

  private fail(e: Error): void {
    if (!this.error) this.error = e;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Waits until `n` bytes are buffered, reserving what lies beyond the read window from the budget. */
  private async need(n: number): Promise<void> {
    if (this.available >= n) return;
    if (this.error) throw this.error;
    if (this.ended) throw new Error('stream ended early');
    if (n > this.maxBytes) throw new StreamLimitError('stream too large');
    const extra = Math.max(0, n - READ_WINDOW) - this.reserved;
    if (extra > 0 && this.budget) {
      if (!this.budget.tryTake(extra)) {
        this.source?.destroy();
        throw new StreamLimitError('inbound stream budget exhausted');
      }
      this.reserved += extra;
    }
    this.demand = n;
    this.source?.resume();
    while (this.available < n) {
      if (this.error) throw this.error;
      if (this.ended) throw new Error('stream ended early');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    this.demand = 0;
  }

  /** Removes and returns the next n buffered bytes (a view when they lie in one chunk). */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === first.length) {
        this.chunks.shift();
        this.head = 0;
      }
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const part = Math.min(c.length - this.head, n - filled);
        c.copy(out, filled, this.head, this.head + part);
        filled += part;
        this.head += part;
        if (this.head === c.length) {
          this.chunks.shift();
          this.head = 0;
        }
      }
    }
    this.available -= n;
    if (this.available <= READ_WINDOW) this.source?.resume();
    return out;
  }

  /** All buffered bytes as one buffer (joined once, then kept as the only chunk). */
  private flat(): Buffer {
    if (this.chunks.length === 0) return Buffer.alloc(0);
    if (this.chunks.length === 1) return this.chunks[0]!.subarray(this.head);
    const joined = Buffer.concat(
      this.chunks.map((c, i) => (i === 0 ? c.subarray(this.head) : c)),
      this.available,
    );
    this.chunks = [joined];
    this.head = 0;
    return joined;
  }

  async readBytes(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    await this.need(n);
    return this.take(n);
  }

  async readByte(): Promise<number> {
    return (await this.readBytes(1))[0]!;
  }

  async peekByte(): Promise<number> {
    await this.need(1);
    return this.chunks[0]![this.head]!;
  }

  async readMsgpack(): Promise<Decoded> {
    let want = 1;
    for (;;) {
      await this.need(want);
      const buf = this.flat();
      try {
        const { value, end } = mpDecodeAt(buf, 0);
        this.take(end);
        return value;
      } catch (e) {
        if (!(e instanceof MsgpackIncomplete)) throw e;
        // Retry once the bytes the decoder knows it needs are here: a long str/bin is waited for in one go.
        want = Math.max(e.needed, buf.length + 1);
      }
    }
  }

  private release(): void {
    if (this.reserved > 0) this.budget?.give(this.reserved);
    this.reserved = 0;
  }

  done(): void {
    if (this.timer) clearTimeout(this.timer);
    this.release();
  }
}

export interface TransportOptions {
  bindAddress: string;
  port: number;
  onPacket: (buf: Buffer, from: Pick<RemoteInfo, 'address' | 'port'>) => void;
  onStream: (sock: Duplex) => void;
}

/** What memberlist needs from the network (a real UDP+TCP one, or an in-memory one in the simulator). */
export interface PacketTransport {
  /** The bound port (valid after start). */
  readonly port: number;
  start(): Promise<void>;
  sendUdp(buf: Buffer, ip: string, port: number): Promise<void>;
  dial(ip: string, port: number, timeoutMs: number): Promise<Duplex>;
  close(): Promise<void>;
}

export type TransportFactory = (opts: TransportOptions) => PacketTransport;

/** UDP socket and TCP listener on the same address and port. */
export class Transport implements PacketTransport {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  closed = false;

  constructor(private readonly opts: TransportOptions) {}

  async start(): Promise<void> {
    const family = isIPv6(this.opts.bindAddress) ? 'udp6' : 'udp4';
    // Bind TCP first (so port 0 gets a concrete port), then UDP on the same one.
    const tcp = createServer((sock) => {
      this.track(sock);
      this.opts.onStream(sock);
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port: this.opts.port, host: this.opts.bindAddress, exclusive: true }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', () => {});
    this.tcp = tcp;
    this.port = (tcp.address() as { port: number }).port;
    const udp = createSocket({ type: family });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.port, this.opts.bindAddress, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      tcp.close();
      throw e;
    }
    udp.on('error', () => {});
    udp.on('message', (msg, rinfo) => this.opts.onPacket(msg, rinfo));
    this.udp = udp;
  }

  private track(sock: Socket): void {
    this.sockets.add(sock);
    sock.once('close', () => this.sockets.delete(sock));
    sock.on('error', () => {});
  }

  sendUdp(buf: Buffer, ip: string, port: number): Promise<void> {
    const udp = this.udp;
    if (!udp || this.closed) return Promise.reject(new Error('transport closed'));
    return new Promise((resolve, reject) => {
      udp.send(buf, port, ip, (err) => (err ? reject(err) : resolve()));
    });
  }

  dial(ip: string, port: number, timeoutMs: number): Promise<Socket> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    return new Promise((resolve, reject) => {
      const sock = createConnection({ host: ip, port });
      this.track(sock);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new TimeoutError('timeout waiting for response'));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.setNoDelay(true);
        resolve(sock);
      });
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Closes everything at once (no goodbye): peers see this node as failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r())),
      new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r())),
    ]);
  }
}
