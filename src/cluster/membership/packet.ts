import { ENCRYPT_OVERHEAD, type Keyring } from './keyring.js';
import {
  type Ack,
  type Alive,
  addCrc,
  addLabel,
  checkCrc,
  compressFrom,
  type Dead,
  decodeAck,
  decodeAlive,
  decodeCompress,
  decodeDead,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeCompress,
  type IndirectPing,
  MsgType,
  type Nack,
  type Ping,
  type Suspect,
  splitCompound,
  stripLabel,
} from './messages.js';
import { StreamReader } from './transport.js';

/** Size limits for decompressed / encrypted payloads. */
export const MAX_UDP_DECOMPRESSED = 1024 * 1024;
export const MAX_STREAM_BYTES = 20 * 1024 * 1024 + 64;
const MAX_NESTING = 4;

export interface Security {
  keyring?: Keyring;
  /** '' = no label. */
  label?: string;
}

export type Message =
  | { type: 'ping'; msg: Ping }
  | { type: 'indirectPing'; msg: IndirectPing }
  | { type: 'ack'; msg: Ack }
  | { type: 'nack'; msg: Nack }
  | { type: 'suspect'; msg: Suspect }
  | { type: 'alive'; msg: Alive }
  | { type: 'dead'; msg: Dead }
  | { type: 'user'; payload: Buffer };

/** A packet or stream that must be dropped; `reason` labels the dropped-packets metric. */
export class DropError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const COMPRESS_MIN_BYTES = 256;

/** Outgoing UDP framing: optional compression (only if smaller), CRC, encryption, label. */
export function wrapPacket(packet: Buffer, sec: Security, opts: { compress: boolean; crc: boolean }): Buffer {
  let p = packet;
  // LZW rarely shrinks a small packet (pings, acks, heartbeats) and costs CPU on every one.
  if (opts.compress && p.length > COMPRESS_MIN_BYTES) {
    const c = encodeCompress(p);
    if (c.length < p.length) p = c;
  }
  if (opts.crc) p = addCrc(p);
  const label = sec.label ?? '';
  if (sec.keyring) p = sec.keyring.encrypt(p, label ? Buffer.from(label) : undefined);
  return addLabel(p, label);
}

/** Incoming UDP framing: label check, decryption, CRC check. Throws DropError. */
export function unwrapPacket(buf: Buffer, sec: Security): Buffer {
  let label: string;
  let rest: Buffer;
  try {
    ({ label, rest } = stripLabel(buf));
  } catch (e) {
    throw new DropError('label', (e as Error).message);
  }
  if (label !== (sec.label ?? '')) throw new DropError('label', 'label mismatch');
  let p = rest;
  if (sec.keyring) {
    const plain = sec.keyring.decrypt(p, label ? Buffer.from(label) : undefined);
    if (!plain) throw new DropError('decrypt', 'No installed keys could decrypt the message');
    p = plain;
  }
  if (p.length === 0) throw new DropError('malformed', 'empty packet');
  if (p[0] === MsgType.hasCrc) {
    const inner = checkCrc(p);
    if (!inner) throw new DropError('crc', 'CRC mismatch');
    p = inner;
  }
  return p;
}

/**
 * Decodes one message (recursing into compound and compress) into `out`. A bad part of a compound is
 * reported through `onDrop` and the other parts are still decoded.
 */
export function decodeMessages(
  msg: Buffer,
  out: Message[],
  onDrop: (reason: string, err?: unknown) => void,
  depth = 0,
): Message[] {
  if (depth > MAX_NESTING) {
    onDrop('nesting');
    return out;
  }
  if (msg.length === 0) {
    onDrop('malformed');
    return out;
  }
  const body = msg.subarray(1);
  try {
    switch (msg[0]) {
      case MsgType.compound: {
        const { parts, truncated } = splitCompound(body);
        if (truncated > 0) onDrop('truncated');
        for (const part of parts) decodeMessages(part, out, onDrop, depth + 1);
        break;
      }
      case MsgType.compress:
        decodeMessages(decodeCompress(body, MAX_UDP_DECOMPRESSED), out, onDrop, depth + 1);
        break;
      case MsgType.ping:
        out.push({ type: 'ping', msg: decodePing(body) });
        break;
      case MsgType.indirectPing:
        out.push({ type: 'indirectPing', msg: decodeIndirectPing(body) });
        break;
      case MsgType.ack:
        out.push({ type: 'ack', msg: decodeAck(body) });
        break;
      case MsgType.nack:
        out.push({ type: 'nack', msg: decodeNack(body) });
        break;
      case MsgType.suspect:
        out.push({ type: 'suspect', msg: decodeSuspect(body) });
        break;
      case MsgType.alive:
        out.push({ type: 'alive', msg: decodeAlive(body) });
        break;
      case MsgType.dead:
        out.push({ type: 'dead', msg: decodeDead(body) });
        break;
      case MsgType.user:
        out.push({ type: 'user', payload: Buffer.from(body) });
        break;
      default:
        onDrop('unknown_type');
    }
  } catch (e) {
    onDrop('malformed', e);
  }
  return out;
}

/** Outgoing stream framing: label header (dialer only), then the encryption envelope when keyed. */
export function wrapStream(msg: Buffer, sec: Security, dialer: boolean): Buffer {
  const label = sec.label ?? '';
  const parts: Buffer[] = [];
  if (dialer && label) parts.push(addLabel(Buffer.alloc(0), label));
  if (sec.keyring) {
    const head = Buffer.alloc(5);
    head[0] = MsgType.encrypt;
    head.writeUInt32BE(msg.length + ENCRYPT_OVERHEAD, 1);
    parts.push(head, sec.keyring.encrypt(msg, Buffer.concat([head, Buffer.from(label)])));
  } else parts.push(msg);
  return Buffer.concat(parts);
}

/**
 * Reads the framing of one stream message (label when `expectLabel`, encryption, compression) and returns
 * its type byte and a reader positioned after it. Throws DropError.
 */
export async function readStreamFrame(
  r: StreamReader,
  sec: Security,
  expectLabel: boolean,
): Promise<{ type: number; r: StreamReader }> {
  const label = sec.label ?? '';
  let streamLabel = label;
  if (expectLabel) {
    streamLabel = '';
    if ((await r.peekByte()) === MsgType.hasLabel) {
      await r.readByte();
      const n = await r.readByte();
      if (n === 0) throw new DropError('label', 'empty stream label');
      streamLabel = (await r.readBytes(n)).toString('utf8');
    }
    if (streamLabel !== label) throw new DropError('label', 'stream label mismatch');
  }
  let type = await r.readByte();
  let reader = r;
  if (sec.keyring) {
    if (type !== MsgType.encrypt) throw new DropError('plaintext', 'unencrypted stream');
    const lenBuf = await r.readBytes(4);
    const n = lenBuf.readUInt32BE(0);
    // Refuse before buffering anything: the declared length, then the envelope's version byte.
    if (n > MAX_STREAM_BYTES) throw new DropError('oversized', 'encrypted stream too large');
    if (n < ENCRYPT_OVERHEAD) throw new DropError('decrypt', 'encrypted stream too short');
    const version = await r.peekByte();
    if (version !== 0 && version !== 1) throw new DropError('decrypt', 'unknown encryption version');
    const env = await r.readBytes(n);
    const aad = Buffer.concat([Buffer.from([MsgType.encrypt]), lenBuf, Buffer.from(streamLabel)]);
    const plain = sec.keyring.decrypt(env, aad);
    if (!plain) throw new DropError('decrypt', 'No installed keys could decrypt the message');
    reader = new StreamReader(plain, plain.length);
    type = await reader.readByte();
  } else if (type === MsgType.encrypt) {
    throw new DropError('encrypted', 'Remote state is encrypted and encryption is not configured');
  }
  if (type === MsgType.compress) {
    const plain = compressFrom(await reader.readMsgpack(), MAX_STREAM_BYTES);
    reader = new StreamReader(plain, plain.length);
    type = await reader.readByte();
  }
  return { type, r: reader };
}
