import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Decoded, MsgpackIncomplete, mpDecodeAt } from './msgpack.js';

export class TimeoutError extends Error {}

/**
 * Reads a TCP stream (or a fully buffered message) piece by piece: bytes or whole msgpack values,
 * waiting for more data when a value is incomplete. Bounded by `maxBytes` and a deadline.
 */
export class StreamReader {
  private buf: Buffer;
  private pos = 0;
  private ended: boolean;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private total = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(source: Duplex | Buffer, maxBytes: number, deadlineMs?: number) {
    if (Buffer.isBuffer(source)) {
      this.buf = source;
      this.ended = true;
      return;
    }
    this.buf = Buffer.alloc(0);
    this.ended = false;
    source.on('data', (d: Buffer) => {
      this.total += d.length;
      if (this.total > maxBytes) {
        this.fail(new Error('stream too large'));
        source.destroy();
        return;
      }
      this.buf = this.pos >= this.buf.length ? d : Buffer.concat([this.buf.subarray(this.pos), d]);
      this.pos = 0;
      this.notify();
    });
    source.on('end', () => {
      this.ended = true;
      this.notify();
    });
    source.on('close', () => {
      this.ended = true;
      this.notify();
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

  private async more(): Promise<void> {
    if (this.error) throw this.error;
    if (this.ended) throw new Error('stream ended early');
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    if (this.error) throw this.error;
  }

  async readBytes(n: number): Promise<Buffer> {
    while (this.buf.length - this.pos < n) await this.more();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async readByte(): Promise<number> {
    return (await this.readBytes(1))[0]!;
  }

  async peekByte(): Promise<number> {
    while (this.buf.length - this.pos < 1) await this.more();
    return this.buf[this.pos]!;
  }

  async readMsgpack(): Promise<Decoded> {
    for (;;) {
      try {
        const { value, end } = mpDecodeAt(this.buf, this.pos);
        this.pos = end;
        return value;
      } catch (e) {
        if (!(e instanceof MsgpackIncomplete)) throw e;
        await this.more();
      }
    }
  }

  done(): void {
    if (this.timer) clearTimeout(this.timer);
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
