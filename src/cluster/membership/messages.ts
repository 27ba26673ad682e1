import { crc32 } from 'node:zlib';
import { lzwDecode, lzwEncode } from './lzw.js';
import {
  asObject,
  type Decoded,
  fBool,
  fBytes,
  fStr,
  fUint,
  type MpObject,
  MsgpackError,
  mpDecode,
  mpEncode,
} from './msgpack.js';

/** memberlist message type bytes (append-only upstream). */
export const MsgType = {
  ping: 0,
  indirectPing: 1,
  ack: 2,
  suspect: 3,
  alive: 4,
  dead: 5,
  pushPull: 6,
  compound: 7,
  user: 8,
  compress: 9,
  encrypt: 10,
  nack: 11,
  hasCrc: 12,
  err: 13,
  hasLabel: 244,
} as const;

export const MAX_U16 = 0xffff;
export const MAX_U32 = 0xffffffff;
export const META_MAX = 512;
/** UDP packets we compose stay under this (memberlist UDPBufferSize). */
export const UDP_BUFFER_SIZE = 1400;
export const COMPOUND_HEADER_OVERHEAD = 2;
export const COMPOUND_OVERHEAD = 2;
export const LABEL_MAX = 255;

export interface Ping {
  seqNo: number;
  node: string;
  sourceAddr?: Buffer;
  sourcePort?: number;
  sourceNode?: string;
}
export interface IndirectPing {
  seqNo: number;
  target: Buffer;
  port: number;
  node: string;
  nack: boolean;
  sourceAddr?: Buffer;
  sourcePort?: number;
  sourceNode?: string;
}
export interface Ack {
  seqNo: number;
  payload: Buffer;
}
export interface Nack {
  seqNo: number;
}
export interface Suspect {
  incarnation: number;
  node: string;
  from: string;
}
export type Dead = Suspect;
export interface Alive {
  incarnation: number;
  node: string;
  addr: Buffer;
  port: number;
  meta: Buffer;
  vsn: Buffer;
}
export interface PushPullHeader {
  join: boolean;
  nodes: number;
  userStateLen: number;
}
export const NodeStateNum = { alive: 0, suspect: 1, dead: 2, left: 3 } as const;
export interface PushNodeState {
  name: string;
  addr: Buffer;
  port: number;
  meta: Buffer;
  incarnation: number;
  state: number;
  vsn: Buffer;
}

const withType = (t: number, body: Buffer) => Buffer.concat([Buffer.from([t]), body]);
const nilIfEmpty = (b: Buffer | undefined) => (b && b.length > 0 ? b : null);

export function encodePing(p: Ping): Buffer {
  return withType(
    MsgType.ping,
    mpEncode({
      SeqNo: p.seqNo,
      Node: p.node,
      SourceAddr: p.sourceAddr && p.sourceAddr.length > 0 ? p.sourceAddr : undefined,
      SourcePort: p.sourcePort ? p.sourcePort : undefined,
      SourceNode: p.sourceNode ? p.sourceNode : undefined,
    }),
  );
}

export function encodeIndirectPing(p: IndirectPing): Buffer {
  return withType(
    MsgType.indirectPing,
    mpEncode({
      SeqNo: p.seqNo,
      Target: p.target,
      Port: p.port,
      Node: p.node,
      Nack: p.nack,
      SourceAddr: p.sourceAddr && p.sourceAddr.length > 0 ? p.sourceAddr : undefined,
      SourcePort: p.sourcePort ? p.sourcePort : undefined,
      SourceNode: p.sourceNode ? p.sourceNode : undefined,
    }),
  );
}

export function encodeAck(a: Ack): Buffer {
  return withType(MsgType.ack, mpEncode({ SeqNo: a.seqNo, Payload: nilIfEmpty(a.payload) }));
}

export function encodeNack(n: Nack): Buffer {
  return withType(MsgType.nack, mpEncode({ SeqNo: n.seqNo }));
}

export function encodeSuspect(s: Suspect): Buffer {
  return withType(MsgType.suspect, mpEncode({ Incarnation: s.incarnation, Node: s.node, From: s.from }));
}

export function encodeDead(d: Dead): Buffer {
  return withType(MsgType.dead, mpEncode({ Incarnation: d.incarnation, Node: d.node, From: d.from }));
}

export function encodeAlive(a: Alive): Buffer {
  return withType(
    MsgType.alive,
    mpEncode({
      Incarnation: a.incarnation,
      Node: a.node,
      Addr: a.addr,
      Port: a.port,
      Meta: nilIfEmpty(a.meta),
      Vsn: a.vsn,
    }),
  );
}

export function encodeUser(payload: Buffer): Buffer {
  return withType(MsgType.user, payload);
}

export function encodePushPullHeader(h: PushPullHeader): Buffer {
  return mpEncode({ Join: h.join, Nodes: h.nodes, UserStateLen: h.userStateLen });
}

export function encodePushNodeState(n: PushNodeState): Buffer {
  return mpEncode({
    Name: n.name,
    Addr: n.addr,
    Port: n.port,
    Meta: nilIfEmpty(n.meta),
    Incarnation: n.incarnation,
    State: n.state,
    Vsn: n.vsn,
  });
}

export function encodeCompress(payload: Buffer): Buffer {
  return withType(MsgType.compress, mpEncode({ Algo: 0, Buf: lzwEncode(payload) }));
}

export function encodeErr(message: string): Buffer {
  return withType(MsgType.err, mpEncode({ Error: message }));
}

// ---------------------------------------------------------------- decoding

function body(buf: Buffer, what: string): MpObject {
  return asObject(mpDecode(buf), what);
}

function vsnOf(o: MpObject): Buffer {
  const v = fBytes(o, 'Vsn');
  if (v.length !== 0 && v.length !== 6) throw new MsgpackError('Vsn must be 6 bytes');
  return v;
}

function ipOf(o: MpObject, key: string, required: boolean): Buffer {
  const v = fBytes(o, key);
  if (v.length === 0 && !required) return v;
  if (v.length !== 4 && v.length !== 16) throw new MsgpackError(`${key} must be an IPv4 or IPv6 address`);
  return v;
}

export function decodePing(buf: Buffer): Ping {
  return pingFrom(mpDecode(buf));
}

export function pingFrom(v: Decoded): Ping {
  const o = asObject(v, 'ping');
  return {
    seqNo: fUint(o, 'SeqNo', MAX_U32, true),
    node: fStr(o, 'Node'),
    sourceAddr: ipOf(o, 'SourceAddr', false),
    sourcePort: fUint(o, 'SourcePort', MAX_U16),
    sourceNode: fStr(o, 'SourceNode'),
  };
}

export function decodeIndirectPing(buf: Buffer): IndirectPing {
  const o = body(buf, 'indirect ping');
  return {
    seqNo: fUint(o, 'SeqNo', MAX_U32, true),
    target: ipOf(o, 'Target', true),
    port: fUint(o, 'Port', MAX_U16, true),
    node: fStr(o, 'Node'),
    nack: fBool(o, 'Nack'),
    sourceAddr: ipOf(o, 'SourceAddr', false),
    sourcePort: fUint(o, 'SourcePort', MAX_U16),
    sourceNode: fStr(o, 'SourceNode'),
  };
}

export function decodeAck(buf: Buffer): Ack {
  return ackFrom(mpDecode(buf));
}

export function ackFrom(v: Decoded): Ack {
  const o = asObject(v, 'ack');
  return { seqNo: fUint(o, 'SeqNo', MAX_U32, true), payload: fBytes(o, 'Payload') };
}

export function decodeNack(buf: Buffer): Nack {
  const o = body(buf, 'nack');
  return { seqNo: fUint(o, 'SeqNo', MAX_U32, true) };
}

function decodeSuspectLike(buf: Buffer, what: string): Suspect {
  const o = body(buf, what);
  const node = fStr(o, 'Node', true);
  if (node === '') throw new MsgpackError(`${what}: empty node name`);
  return { incarnation: fUint(o, 'Incarnation', MAX_U32, true), node, from: fStr(o, 'From') };
}

export const decodeSuspect = (buf: Buffer) => decodeSuspectLike(buf, 'suspect');
export const decodeDead = (buf: Buffer) => decodeSuspectLike(buf, 'dead');

export function decodeAlive(buf: Buffer): Alive {
  const o = body(buf, 'alive');
  const node = fStr(o, 'Node', true);
  if (node === '') throw new MsgpackError('alive: empty node name');
  const meta = fBytes(o, 'Meta');
  if (meta.length > META_MAX) throw new MsgpackError('alive: meta too large');
  return {
    incarnation: fUint(o, 'Incarnation', MAX_U32, true),
    node,
    addr: ipOf(o, 'Addr', true),
    port: fUint(o, 'Port', MAX_U16, true),
    meta,
    vsn: vsnOf(o),
  };
}

export function decodePushPullHeader(v: Decoded): PushPullHeader {
  const o = asObject(v, 'push/pull header');
  return {
    join: fBool(o, 'Join'),
    nodes: fUint(o, 'Nodes', 1 << 20),
    userStateLen: fUint(o, 'UserStateLen', 20 * 1024 * 1024),
  };
}

export function decodePushNodeState(v: Decoded): PushNodeState {
  const o = asObject(v, 'push node state');
  const name = fStr(o, 'Name', true);
  if (name === '') throw new MsgpackError('push node state: empty name');
  const meta = fBytes(o, 'Meta');
  if (meta.length > META_MAX) throw new MsgpackError('push node state: meta too large');
  return {
    name,
    addr: ipOf(o, 'Addr', true),
    port: fUint(o, 'Port', MAX_U16, true),
    meta,
    incarnation: fUint(o, 'Incarnation', MAX_U32, true),
    state: fUint(o, 'State', 3),
    vsn: vsnOf(o),
  };
}

/** Decodes a compress message body (after the type byte) into the wrapped message. */
export function decodeCompress(buf: Buffer, maxOut: number): Buffer {
  return compressFrom(mpDecode(buf), maxOut);
}

export function compressFrom(v: Decoded, maxOut: number): Buffer {
  const o = asObject(v, 'compress');
  const algo = fUint(o, 'Algo', 255);
  if (algo !== 0) throw new MsgpackError(`unknown compression algorithm ${algo}`);
  return lzwDecode(fBytes(o, 'Buf'), maxOut);
}

export function errFrom(v: Decoded): string {
  return fStr(asObject(v, 'err'), 'Error');
}

// ---------------------------------------------------------------- packet framing

export function makeCompound(parts: Buffer[]): Buffer {
  if (parts.length > 255) throw new Error('too many compound parts');
  const head = Buffer.allocUnsafe(2 + 2 * parts.length);
  head[0] = MsgType.compound;
  head[1] = parts.length;
  parts.forEach((p, i) => {
    head.writeUInt16BE(p.length, 2 + 2 * i);
  });
  return Buffer.concat([head, ...parts]);
}

/** Splits a compound body (after the type byte). Parts running past the end are dropped and counted. */
export function splitCompound(buf: Buffer): { parts: Buffer[]; truncated: number } {
  if (buf.length < 1) throw new MsgpackError('compound: missing length');
  const n = buf[0]!;
  if (buf.length < 1 + 2 * n) throw new MsgpackError('compound: truncated header');
  const parts: Buffer[] = [];
  let off = 1 + 2 * n;
  let truncated = 0;
  for (let i = 0; i < n; i++) {
    const len = buf.readUInt16BE(1 + 2 * i);
    if (off + len > buf.length) {
      truncated = n - i;
      break;
    }
    parts.push(buf.subarray(off, off + len));
    off += len;
  }
  return { parts, truncated };
}

export function addCrc(packet: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = MsgType.hasCrc;
  head.writeUInt32BE(crc32(packet) >>> 0, 1);
  return Buffer.concat([head, packet]);
}

/** Returns the inner packet, or null on a CRC mismatch. Input starts with the hasCrc byte. */
export function checkCrc(packet: Buffer): Buffer | null {
  if (packet.length < 5) return null;
  const inner = packet.subarray(5);
  return packet.readUInt32BE(1) === crc32(inner) >>> 0 ? inner : null;
}

export function addLabel(packet: Buffer, label: string): Buffer {
  if (!label) return packet;
  const l = Buffer.from(label, 'utf8');
  return Buffer.concat([Buffer.from([MsgType.hasLabel, l.length]), l, packet]);
}

/** Strips a label header; returns the label ('' when none) and the rest. Throws on a malformed header. */
export function stripLabel(packet: Buffer): { label: string; rest: Buffer } {
  if (packet.length === 0 || packet[0] !== MsgType.hasLabel) return { label: '', rest: packet };
  if (packet.length < 2) throw new MsgpackError('label: truncated');
  const n = packet[1]!;
  if (n === 0 || packet.length < 2 + n) throw new MsgpackError('label: bad length');
  return { label: packet.subarray(2, 2 + n).toString('utf8'), rest: packet.subarray(2 + n) };
}
