import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../../src/cluster/membership/keyring.js';
import {
  DropError,
  decodeMessages,
  readStreamFrame,
  unwrapPacket,
} from '../../../src/cluster/membership/packet.js';
import { readPushPull } from '../../../src/cluster/membership/pushpull.js';
import { ByteBudget, StreamReader } from '../../../src/cluster/membership/transport.js';

/** The key the encrypted captures were made with (see codec.test.ts). */
const TEST_KEY = '/lOqB8QlCRFHFaSjB990eEPDr3kSAQK9CEAhK9X9BCs=';
const keyring = Keyring.fromBase64(TEST_KEY);

interface Fixture {
  udp: { hex: string }[];
  tcp: { hex: string }[];
}
const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), 'utf8')) as Fixture;
const plain = ['plain', 'ping', 'fail', 'restart2'].map(load);
const enc = load('enc');
const plainUdp = plain.flatMap((f) => f.udp.map((p) => Buffer.from(p.hex, 'hex')));
const plainTcp = plain.flatMap((f) => f.tcp.map((p) => Buffer.from(p.hex, 'hex')));
const encUdp = enc.udp.map((p) => Buffer.from(p.hex, 'hex'));
const encTcp = enc.tcp.map((p) => Buffer.from(p.hex, 'hex'));

/** A capture with random byte flips, truncation, insertions or length-field blow-ups. */
const mutated = (captures: Buffer[]) =>
  fc
    .tuple(
      fc.constantFrom(...captures),
      fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('flip' as const),
            at: fc.nat(),
            byte: fc.integer({ min: 0, max: 255 }),
          }),
          fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
          fc.record({
            op: fc.constant('insert' as const),
            at: fc.nat(),
            bytes: fc.uint8Array({ maxLength: 8 }),
          }),
          fc.record({ op: fc.constant('huge' as const), at: fc.nat() }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([capture, ops]) => {
      let b = Buffer.from(capture);
      for (const o of ops) {
        if (b.length === 0) break;
        const at = o.at % b.length;
        if (o.op === 'flip') b[at] = o.byte;
        else if (o.op === 'cut') b = b.subarray(0, at);
        else if (o.op === 'insert')
          b = Buffer.concat([b.subarray(0, at), Buffer.from(o.bytes), b.subarray(at)]);
        else
          b = Buffer.concat([b.subarray(0, at), Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff]), b.subarray(at)]);
      }
      return b;
    });

/** Only a DropError (or a counted drop) may come out of the UDP decoder. */
function decodePacket(buf: Buffer, sec: { keyring?: Keyring }): void {
  try {
    decodeMessages(unwrapPacket(buf, sec), [], () => undefined);
  } catch (e) {
    if (!(e instanceof DropError)) throw e;
  }
}

/** A stream decodes to a frame and its body or fails with an Error, never hangs or throws a non-Error. */
async function decodeStream(buf: Buffer, sec: { keyring?: Keyring }): Promise<void> {
  try {
    const { r } = await readStreamFrame(new StreamReader(buf, buf.length), sec, true);
    await readPushPull(r);
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
  }
}

describe('gossip decoder fuzzing', () => {
  it('decodes every capture cleanly (the corpus is valid)', async () => {
    for (const b of plainUdp) decodePacket(b, {});
    for (const b of encUdp) expect(() => unwrapPacket(b, { keyring })).not.toThrow();
    for (const b of [...plainTcp, ...encTcp]) expect(b.length).toBeGreaterThan(0);
  });

  it('UDP: random bytes and mutated captures only ever drop', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
          mutated(plainUdp),
        ),
        (b) => decodePacket(b, {}),
      ),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(mutated(encUdp), (b) => decodePacket(b, { keyring })),
      { numRuns: 1000 },
    );
  });

  it('TCP: random bytes and mutated stream captures end in an Error, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }).map((a) => Buffer.from(a)),
          mutated(plainTcp),
        ),
        (b) => decodeStream(b, {}),
      ),
      { numRuns: 1500 },
    );
    await fc.assert(
      fc.asyncProperty(mutated(encTcp), (b) => decodeStream(b, { keyring })),
      { numRuns: 500 },
    );
  });

  it('a socket reader gives the same frames for any chunking of a capture', async () => {
    const expected = await Promise.all(
      plainTcp.map(async (b) => {
        const { type, r } = await readStreamFrame(new StreamReader(b, b.length), {}, true);
        return { type, state: await readPushPull(r) };
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: plainTcp.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 40 }),
        async (i, cuts) => {
          const b = plainTcp[i]!;
          const sock = new PassThrough();
          const budget = new ByteBudget(1024 * 1024);
          const reader = new StreamReader(sock, b.length, 5000, budget);
          void (async () => {
            let at = 0;
            for (let c = 0; at < b.length; c++) {
              const n = cuts[c % cuts.length]!;
              sock.write(b.subarray(at, at + n));
              at += n;
              await new Promise((r) => setImmediate(r));
            }
            sock.end();
          })();
          const { type, r } = await readStreamFrame(reader, {}, true);
          const state = await readPushPull(r);
          reader.done();
          expect({ type, state }).toEqual(expected[i]);
          expect(budget.inUse).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
