/**
 * Minimal msgpack codec matching hashicorp/go-msgpack 0.5.x as used by memberlist:
 * - Go strings and []byte are both written in the legacy raw "str" family (fixstr, str16, str32; never str8/bin),
 * - struct maps are written with keys sorted by byte value,
 * - integers use the smallest unsigned form when non-negative.
 * The decoder accepts every standard form (str8, bin, signed ints, ...), returns str/bin values as raw
 * Buffers (field accessors decide whether a field is text or bytes) and map keys as strings.
 */

export class MsgpackError extends Error {}
/** Thrown when the input ends in the middle of a value (a stream reader may wait for more bytes). */
export class MsgpackIncomplete extends MsgpackError {
  /** Total bytes (from the buffer's start) known to be needed before decoding can get further. */
  constructor(
    message: string,
    readonly needed = 0,
  ) {
    super(message);
  }
}

/** Marker for a value that must be encoded as a msgpack float64. */
export class Float64 {
  constructor(readonly value: number) {}
}

export type MpValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | Float64
  | MpValue[]
  | Map<number | string, MpValue>
  | { [key: string]: MpValue | undefined };

class Writer {
  private chunks: Buffer[] = [];
  byte(b: number): void {
    this.chunks.push(Buffer.from([b]));
  }
  buf(b: Uint8Array): void {
    this.chunks.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  u16(tag: number, v: number): void {
    const b = Buffer.allocUnsafe(3);
    b[0] = tag;
    b.writeUInt16BE(v, 1);
    this.chunks.push(b);
  }
  u32(tag: number, v: number): void {
    const b = Buffer.allocUnsafe(5);
    b[0] = tag;
    b.writeUInt32BE(v, 1);
    this.chunks.push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function writeRaw(w: Writer, bytes: Uint8Array): void {
  const n = bytes.byteLength;
  if (n < 32) w.byte(0xa0 | n);
  else if (n < 0x10000) w.u16(0xda, n);
  else w.u32(0xdb, n);
  w.buf(bytes);
}

function writeInt(w: Writer, v: number | bigint): void {
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= 0xffffffffn) {
      writeInt(w, Number(v));
      return;
    }
    const b = Buffer.allocUnsafe(9);
    if (v >= 0n) {
      b[0] = 0xcf;
      b.writeBigUInt64BE(v, 1);
    } else {
      b[0] = 0xd3;
      b.writeBigInt64BE(v, 1);
    }
    w.buf(b);
    return;
  }
  if (v >= 0) {
    if (v < 128) w.byte(v);
    else if (v < 0x100) w.buf(Buffer.from([0xcc, v]));
    else if (v < 0x10000) w.u16(0xcd, v);
    else if (v <= 0xffffffff) w.u32(0xce, v);
    else writeInt(w, BigInt(v));
    return;
  }
  if (v >= -32) w.byte(v & 0xff);
  else if (v >= -128) w.buf(Buffer.from([0xd0, v & 0xff]));
  else if (v >= -32768) {
    const b = Buffer.allocUnsafe(3);
    b[0] = 0xd1;
    b.writeInt16BE(v, 1);
    w.buf(b);
  } else if (v >= -2147483648) {
    const b = Buffer.allocUnsafe(5);
    b[0] = 0xd2;
    b.writeInt32BE(v, 1);
    w.buf(b);
  } else writeInt(w, BigInt(v));
}

function writeLen(w: Writer, n: number, fix: number, t16: number, t32: number): void {
  if (n < 16) w.byte(fix | n);
  else if (n < 0x10000) w.u16(t16, n);
  else w.u32(t32, n);
}

function writeValue(w: Writer, v: MpValue | undefined, depth: number): void {
  if (depth > 32) throw new MsgpackError('value nested too deeply');
  if (v === null || v === undefined) {
    w.byte(0xc0);
    return;
  }
  if (typeof v === 'boolean') {
    w.byte(v ? 0xc3 : 0xc2);
    return;
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      writeInt(w, v);
      return;
    }
    const b = Buffer.allocUnsafe(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v, 1);
    w.buf(b);
    return;
  }
  if (typeof v === 'bigint') {
    writeInt(w, v);
    return;
  }
  if (typeof v === 'string') {
    writeRaw(w, Buffer.from(v, 'utf8'));
    return;
  }
  if (v instanceof Float64) {
    const b = Buffer.allocUnsafe(9);
    b[0] = 0xcb;
    b.writeDoubleBE(v.value, 1);
    w.buf(b);
    return;
  }
  if (v instanceof Uint8Array) {
    writeRaw(w, v);
    return;
  }
  if (Array.isArray(v)) {
    writeLen(w, v.length, 0x90, 0xdc, 0xdd);
    for (const item of v) writeValue(w, item, depth + 1);
    return;
  }
  if (v instanceof Map) {
    writeLen(w, v.size, 0x80, 0xde, 0xdf);
    for (const [k, item] of v) {
      writeValue(w, k, depth + 1);
      writeValue(w, item, depth + 1);
    }
    return;
  }
  // Plain object = Go struct: keys sorted by byte value, undefined fields omitted (Go `omitempty`).
  const keys = Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  writeLen(w, keys.length, 0x80, 0xde, 0xdf);
  for (const k of keys) {
    writeRaw(w, Buffer.from(k, 'utf8'));
    writeValue(w, v[k], depth + 1);
  }
}

export function mpEncode(v: MpValue): Buffer {
  const w = new Writer();
  writeValue(w, v, 0);
  return w.done();
}

export type Decoded =
  | null
  | boolean
  | number
  | Buffer
  | Decoded[]
  | { [key: string]: Decoded }
  | Map<number | string, Decoded>;

const MAX_ITEMS = 1 << 20;

class Reader {
  pos: number;
  constructor(
    readonly b: Buffer,
    start: number,
  ) {
    this.pos = start;
  }
  need(n: number): void {
    if (this.pos + n > this.b.length) throw new MsgpackIncomplete('truncated msgpack value', this.pos + n);
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  take(n: number): Buffer {
    this.need(n);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function readValue(r: Reader, depth: number): Decoded {
  if (depth > 32) throw new MsgpackError('msgpack nested too deeply');
  const t = r.u8();
  const b = r.b;
  if (t < 0x80) return t;
  if (t >= 0xe0) return t - 256;
  if ((t & 0xf0) === 0x80) return readMap(r, t & 0x0f, depth);
  if ((t & 0xf0) === 0x90) return readArray(r, t & 0x0f, depth);
  if ((t & 0xe0) === 0xa0) return r.take(t & 0x1f);
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xd9:
      return r.take(r.u8());
    case 0xc5:
    case 0xda: {
      r.need(2);
      const n = b.readUInt16BE(r.pos);
      r.pos += 2;
      return r.take(n);
    }
    case 0xc6:
    case 0xdb: {
      r.need(4);
      const n = b.readUInt32BE(r.pos);
      r.pos += 4;
      return r.take(n);
    }
    case 0xca: {
      r.need(4);
      const v = b.readFloatBE(r.pos);
      r.pos += 4;
      return v;
    }
    case 0xcb: {
      r.need(8);
      const v = b.readDoubleBE(r.pos);
      r.pos += 8;
      return v;
    }
    case 0xcc:
      return r.u8();
    case 0xcd: {
      r.need(2);
      const v = b.readUInt16BE(r.pos);
      r.pos += 2;
      return v;
    }
    case 0xce: {
      r.need(4);
      const v = b.readUInt32BE(r.pos);
      r.pos += 4;
      return v;
    }
    case 0xcf: {
      r.need(8);
      const v = Number(b.readBigUInt64BE(r.pos));
      r.pos += 8;
      return v;
    }
    case 0xd0: {
      r.need(1);
      return b.readInt8(r.pos++);
    }
    case 0xd1: {
      r.need(2);
      const v = b.readInt16BE(r.pos);
      r.pos += 2;
      return v;
    }
    case 0xd2: {
      r.need(4);
      const v = b.readInt32BE(r.pos);
      r.pos += 4;
      return v;
    }
    case 0xd3: {
      r.need(8);
      const v = Number(b.readBigInt64BE(r.pos));
      r.pos += 8;
      return v;
    }
    case 0xdc: {
      r.need(2);
      const n = b.readUInt16BE(r.pos);
      r.pos += 2;
      return readArray(r, n, depth);
    }
    case 0xdd: {
      r.need(4);
      const n = b.readUInt32BE(r.pos);
      r.pos += 4;
      return readArray(r, n, depth);
    }
    case 0xde: {
      r.need(2);
      const n = b.readUInt16BE(r.pos);
      r.pos += 2;
      return readMap(r, n, depth);
    }
    case 0xdf: {
      r.need(4);
      const n = b.readUInt32BE(r.pos);
      r.pos += 4;
      return readMap(r, n, depth);
    }
    default:
      throw new MsgpackError(`unsupported msgpack type 0x${t.toString(16)}`);
  }
}

function readArray(r: Reader, n: number, depth: number): Decoded[] {
  if (n > MAX_ITEMS) throw new MsgpackError('msgpack array too large');
  const out: Decoded[] = [];
  for (let i = 0; i < n; i++) out.push(readValue(r, depth + 1));
  return out;
}

/** Maps with string keys become plain objects; maps with any non-string key become a Map. */
function readMap(r: Reader, n: number, depth: number): Decoded {
  if (n > MAX_ITEMS) throw new MsgpackError('msgpack map too large');
  const entries: [number | string, Decoded][] = [];
  let allStrings = true;
  for (let i = 0; i < n; i++) {
    const k = readValue(r, depth + 1);
    const v = readValue(r, depth + 1);
    if (Buffer.isBuffer(k)) entries.push([k.toString('utf8'), v]);
    else if (typeof k === 'number') {
      allStrings = false;
      entries.push([k, v]);
    } else throw new MsgpackError('unsupported msgpack map key');
  }
  if (!allStrings) return new Map(entries);
  const obj: { [key: string]: Decoded } = Object.create(null);
  for (const [k, v] of entries) obj[k as string] = v;
  return obj;
}

/** Decodes one value starting at `offset`; returns it and the offset just after it. */
export function mpDecodeAt(buf: Buffer, offset = 0): { value: Decoded; end: number } {
  const r = new Reader(buf, offset);
  const value = readValue(r, 0);
  return { value, end: r.pos };
}

/** Decodes exactly one value; trailing bytes are ignored (Go's decoder does the same). */
export function mpDecode(buf: Buffer): Decoded {
  return mpDecodeAt(buf, 0).value;
}

// ---- typed field accessors (throw MsgpackError on a wrong type) ----

export type MpObject = { [key: string]: Decoded };

export function asObject(v: Decoded, what: string): MpObject {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v) || Array.isArray(v) || v instanceof Map)
    throw new MsgpackError(`${what}: expected a map`);
  return v;
}

export function fStr(o: MpObject, key: string, required = false): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new MsgpackError(`missing field ${key}`);
    return '';
  }
  if (!Buffer.isBuffer(v)) throw new MsgpackError(`field ${key}: expected a string`);
  return v.toString('utf8');
}

export function fBytes(o: MpObject, key: string): Buffer {
  const v = o[key];
  if (v === undefined || v === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(v)) return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' && x >= 0 && x < 256 && Number.isInteger(x)))
    return Buffer.from(v as number[]);
  throw new MsgpackError(`field ${key}: expected bytes`);
}

export function fUint(o: MpObject, key: string, max: number, required = false): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new MsgpackError(`missing field ${key}`);
    return 0;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new MsgpackError(`field ${key}: expected an unsigned integer ≤ ${max}`);
  return v;
}

export function fBool(o: MpObject, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  throw new MsgpackError(`field ${key}: expected a bool`);
}
