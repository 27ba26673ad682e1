import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/cluster/membership/keyring.js';
import { lzwDecode, lzwEncode } from '../../../src/cluster/membership/lzw.js';
import {
  addCrc,
  decodeAck,
  decodeAlive,
  decodeDead,
  decodeIndirectPing,
  decodeNack,
  decodePing,
  decodeSuspect,
  encodeAck,
  encodeAlive,
  encodeCompress,
  encodeDead,
  encodeIndirectPing,
  encodeNack,
  encodePing,
  encodeSuspect,
  encodeUser,
  MsgType,
  makeCompound,
} from '../../../src/cluster/membership/messages.js';
import { mpDecode, mpEncode } from '../../../src/cluster/membership/msgpack.js';
import {
  DropError,
  decodeMessages,
  type Message,
  readStreamFrame,
  unwrapPacket,
  wrapPacket,
  wrapStream,
} from '../../../src/cluster/membership/packet.js';
import { encodePushPull, readPushPull } from '../../../src/cluster/membership/pushpull.js';
import { decodeTags, encodeSerfLeave, encodeTags, serfLTime } from '../../../src/cluster/membership/serf.js';
import { StreamReader } from '../../../src/cluster/membership/transport.js';

const TEST_KEY = '/lOqB8QlCRFHFaSjB990eEPDr3kSAQK9CEAhK9X9BCs=';
interface Fixture {
  udp: { src: string; dst: string; hex: string }[];
  tcp: { src: string; dst: string; hex: string }[];
}
const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;

function decodeAll(buf: Buffer, sec: { keyring?: Keyring } = {}) {
  const drops: string[] = [];
  const msgs = decodeMessages(unwrapPacket(buf, sec), [], (r) => drops.push(r));
  return { msgs, drops };
}

const ip = Buffer.from([127, 0, 0, 1]);
const vsn = Buffer.from([1, 5, 2, 2, 5, 5]);

describe('message codec', () => {
  it('round-trips every UDP message type', () => {
    const ping = { seqNo: 7, node: 'n1', sourceAddr: ip, sourcePort: 7962, sourceNode: 'n2' };
    expect(decodePing(encodePing(ping).subarray(1))).toEqual(ping);
    const ind = {
      seqNo: 70000,
      target: ip,
      port: 7946,
      node: 'n3',
      nack: true,
      sourceAddr: ip,
      sourcePort: 1,
      sourceNode: 'x',
    };
    expect(decodeIndirectPing(encodeIndirectPing(ind).subarray(1))).toEqual(ind);
    expect(decodeAck(encodeAck({ seqNo: 4294967295, payload: Buffer.from([1, 2]) }).subarray(1))).toEqual({
      seqNo: 4294967295,
      payload: Buffer.from([1, 2]),
    });
    expect(decodeAck(encodeAck({ seqNo: 1, payload: Buffer.alloc(0) }).subarray(1)).payload.length).toBe(0);
    expect(decodeNack(encodeNack({ seqNo: 300 }).subarray(1))).toEqual({ seqNo: 300 });
    const s = { incarnation: 3, node: 'a', from: 'b' };
    expect(decodeSuspect(encodeSuspect(s).subarray(1))).toEqual(s);
    expect(decodeDead(encodeDead(s).subarray(1))).toEqual(s);
    const alive = { incarnation: 2, node: 'ñode', addr: ip, port: 65535, meta: encodeTags({ a: 'b' }), vsn };
    expect(decodeAlive(encodeAlive(alive).subarray(1))).toEqual(alive);
    // compound + compress + user through the packet pipeline
    const parts = [encodePing(ping), encodeUser(Buffer.from([0xd5, 1, 0, 9])), encodeNack({ seqNo: 1 })];
    const packet = wrapPacket(makeCompound(parts), {}, { compress: false, crc: true });
    const { msgs, drops } = decodeAll(packet);
    expect(drops).toEqual([]);
    expect(msgs.map((m) => m.type)).toEqual(['ping', 'user', 'nack']);
    const compressed = encodeCompress(makeCompound(parts));
    expect(decodeAll(compressed).msgs.map((m) => m.type)).toEqual(['ping', 'user', 'nack']);
  });

  it('writes Go-style msgpack (sorted keys, raw str family for bytes, smallest uints)', () => {
    const b = encodePing({ seqNo: 1, node: 'c1', sourceAddr: ip, sourcePort: 7962, sourceNode: 'c2' });
    expect(b.toString('hex')).toBe(
      `0085${Buffer.from('a44e6f6465a26331a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a26332aa536f75726365506f7274cd1f1a', 'hex').toString('hex')}`,
    );
    const long = mpEncode(Buffer.alloc(40));
    expect(long[0]).toBe(0xda); // str16, never str8/bin
    expect(mpDecode(Buffer.from([0xd1, 0x02, 0x4a]))).toBe(586); // signed int16 accepted
    expect(mpDecode(Buffer.from([0xc4, 0x01, 0x41]))).toEqual(Buffer.from('A')); // bin accepted
  });

  it('LZW matches Go byte for byte and round-trips', () => {
    for (const len of [0, 1, 10, 1000, 50_000]) {
      const data = Buffer.from(Array.from({ length: len }, (_, i) => (i * 7) % 13));
      expect(lzwDecode(lzwEncode(data))).toEqual(data);
    }
    const random = Buffer.from(Array.from({ length: 20_000 }, () => Math.floor(Math.random() * 256)));
    expect(lzwDecode(lzwEncode(random))).toEqual(random);
    expect(() => lzwDecode(Buffer.from([0xff, 0xff, 0xff]))).toThrow();
    expect(() => lzwDecode(lzwEncode(Buffer.alloc(100_000)), 1000)).toThrow();
  });

  it('rejects malformed input without throwing out of the pipeline', () => {
    const bad = [
      Buffer.from([]),
      Buffer.from([MsgType.ping]),
      Buffer.from([MsgType.ping, 0x81, 0xa5]),
      Buffer.from([MsgType.alive, 0x80]),
      Buffer.from([MsgType.compound, 3, 0, 1]),
      Buffer.from([MsgType.compress, 0x82, 0xa4, 0x41, 0x6c, 0x67, 0x6f, 0x07]),
      Buffer.from([200, 1, 2]),
      addCrc(Buffer.from([MsgType.nack, 0x80])),
    ];
    for (const b of bad) {
      try {
        const { msgs } = decodeAll(b);
        expect(msgs).toEqual([]);
      } catch (e) {
        expect(e).toBeInstanceOf(DropError);
      }
    }
    const crcBad = addCrc(encodeNack({ seqNo: 1 }));
    crcBad[4] = (crcBad[4]! + 1) & 0xff;
    expect(() => unwrapPacket(crcBad, {})).toThrow(/CRC/);
  });

  it('encrypts and decrypts UDP and streams; labels are enforced', async () => {
    const kr = Keyring.fromBase64(TEST_KEY);
    const other = Keyring.fromBase64(Buffer.alloc(16, 3).toString('base64'));
    const msg = encodeNack({ seqNo: 9 });
    const enc = wrapPacket(msg, { keyring: kr, label: 'L' }, { compress: true, crc: true });
    expect(decodeMessages(unwrapPacket(enc, { keyring: kr, label: 'L' }), [], () => {})).toHaveLength(1);
    expect(() => unwrapPacket(enc, { keyring: other, label: 'L' })).toThrow(DropError);
    expect(() => unwrapPacket(enc, { keyring: kr, label: 'X' })).toThrow(DropError);
    expect(() => unwrapPacket(enc, { keyring: kr })).toThrow(DropError);
    // keyring: a secondary key decrypts
    const rotated = new Keyring(Buffer.alloc(32, 5), [kr.primary]);
    expect(unwrapPacket(enc, { keyring: rotated, label: 'L' })).toBeDefined();
    const pp = encodePushPull(true, [], Buffer.from([0xd5]));
    const stream = wrapStream(pp, { keyring: kr, label: 'L' }, true);
    const { type, r } = await readStreamFrame(
      new StreamReader(stream, stream.length),
      { keyring: kr, label: 'L' },
      true,
    );
    expect(type).toBe(MsgType.pushPull);
    expect((await readPushPull(r)).userState).toEqual(Buffer.from([0xd5]));
    await expect(
      readStreamFrame(new StreamReader(stream, stream.length), { keyring: other, label: 'L' }, true),
    ).rejects.toThrow(DropError);
  });

  it('serf tags and leave intent', () => {
    expect(encodeTags({})).toEqual(Buffer.from([0xff, 0x80]));
    expect(decodeTags(encodeTags({ role: 'web', http: '1.2.3.4:80' }))).toEqual({
      role: 'web',
      http: '1.2.3.4:80',
    });
    expect(decodeTags(Buffer.from('legacy'))).toEqual({ role: 'legacy' });
    const leave = encodeSerfLeave(42, 'me');
    expect(leave[0]).toBe(0);
    expect(serfLTime(leave)).toBe(42);
  });
});

describe('captured serf 0.9.4 traffic', () => {
  const typesIn = (f: Fixture, sec: { keyring?: Keyring } = {}) => {
    const types = new Set<string>();
    const all: Message[] = [];
    for (const p of f.udp) {
      const { msgs, drops } = decodeAll(Buffer.from(p.hex, 'hex'), sec);
      expect(drops).toEqual([]);
      for (const m of msgs) {
        types.add(m.type);
        all.push(m);
      }
    }
    return { types, all };
  };

  it('plain.pcap: every UDP packet decodes; alive re-encodes byte-identically; push/pull streams parse', async () => {
    const f = fixture('plain');
    const { types, all } = typesIn(f);
    for (const t of ['ping', 'ack', 'alive', 'user']) expect(types).toContain(t);
    const alive = all.find((m) => m.type === 'alive');
    if (alive?.type !== 'alive') throw new Error('no alive');
    expect(alive.msg.vsn).toEqual(vsn);
    // Our encoder reproduces Go's bytes for the same message.
    const raw = f.udp.map((p) => Buffer.from(p.hex, 'hex')).find((b) => b.includes(encodeAlive(alive.msg)));
    expect(raw).toBeDefined();
    for (const s of f.tcp) {
      const buf = Buffer.from(s.hex, 'hex');
      const { type, r } = await readStreamFrame(new StreamReader(buf, buf.length), {}, true);
      expect(type).toBe(MsgType.pushPull);
      const st = await readPushPull(r);
      expect(st.nodes.length).toBeGreaterThan(0);
      expect(st.userState[0]).toBe(2); // serf push/pull state
      expect(serfLTime(st.userState)).toBeGreaterThanOrEqual(0);
      expect(st.nodes.map((n) => n.name).sort()[0]).toMatch(/^c\d$/);
    }
  });

  it('compressed captured payloads re-compress to the same bytes (Go LZW compatible)', () => {
    const f = fixture('plain');
    let checked = 0;
    for (const p of f.udp) {
      let buf = unwrapPacket(Buffer.from(p.hex, 'hex'), {});
      if (buf[0] !== MsgType.compress) continue;
      const o = mpDecode(buf.subarray(1)) as { Buf: Buffer };
      buf = lzwDecode(o.Buf);
      expect(lzwEncode(buf)).toEqual(o.Buf);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('fail.pcap: indirect pings with nack, nacks, suspect, dead and leave (From == Node)', () => {
    const { types, all } = typesIn(fixture('fail'));
    for (const t of ['ping', 'ack', 'indirectPing', 'nack', 'suspect', 'dead', 'user'])
      expect(types).toContain(t);
    const deads = all.filter((m) => m.type === 'dead').map((m) => (m.type === 'dead' ? m.msg : null)!);
    expect(deads.some((d) => d.from === d.node)).toBe(true); // leave
    expect(deads.some((d) => d.from !== d.node)).toBe(true); // failure
  });

  it('fail.pcap push/pull streams (uncompressed) re-encode byte for byte', async () => {
    const f = fixture('fail');
    let checked = 0;
    for (const s of f.tcp) {
      const buf = Buffer.from(s.hex, 'hex');
      if (buf[0] !== MsgType.pushPull) continue;
      const { r } = await readStreamFrame(new StreamReader(buf, buf.length), {}, true);
      const st = await readPushPull(r);
      expect(encodePushPull(st.join, st.nodes, st.userState)).toEqual(buf);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('restart2.pcap and ping.pcap decode', async () => {
    const { all } = typesIn(fixture('restart2'));
    const incs = all
      .filter((m) => m.type === 'alive')
      .map((m) => (m.type === 'alive' ? m.msg.incarnation : 0));
    expect(Math.max(...incs)).toBeGreaterThanOrEqual(2);
    const ping = fixture('ping');
    typesIn(ping);
    for (const s of ping.tcp) {
      const buf = Buffer.from(s.hex, 'hex');
      const { type } = await readStreamFrame(new StreamReader(buf, buf.length), {}, true);
      expect([MsgType.ping, MsgType.ack]).toContain(type);
    }
  });

  it('enc.pcap: decrypts with the test key; wrong key or no key is rejected', async () => {
    const f = fixture('enc');
    const kr = Keyring.fromBase64(TEST_KEY);
    const { types } = typesIn(f, { keyring: kr });
    expect(types).toContain('alive');
    const wrong = Keyring.fromBase64(Buffer.alloc(32, 1).toString('base64'));
    for (const p of f.udp)
      expect(() => unwrapPacket(Buffer.from(p.hex, 'hex'), { keyring: wrong })).toThrow(DropError);
    expect(f.tcp.length).toBeGreaterThan(0);
    for (const s of f.tcp) {
      const buf = Buffer.from(s.hex, 'hex');
      const { type, r } = await readStreamFrame(new StreamReader(buf, buf.length), { keyring: kr }, true);
      expect(type).toBe(MsgType.pushPull);
      expect((await readPushPull(r)).nodes.length).toBeGreaterThan(0);
      await expect(readStreamFrame(new StreamReader(buf, buf.length), {}, true)).rejects.toThrow(DropError);
    }
  });
});
