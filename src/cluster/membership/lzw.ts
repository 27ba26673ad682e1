/**
 * LZW as implemented by Go's compress/lzw with order LSB and literal width 8 (memberlist compress, Algo 0):
 * codes start at 9 bits, 256 = clear, 257 = end, max width 12 bits. The encoder emits a leading clear
 * code, resets (clear) when code 4095 would be assigned, and ends with the end code, so its output is
 * byte-identical to Go's.
 */

const CLEAR = 256;
const EOF = 257;
const MAX_WIDTH = 12;
const MAX_CODE = (1 << MAX_WIDTH) - 1;

export class LzwError extends Error {}

export function lzwEncode(input: Uint8Array): Buffer {
  const out: number[] = [];
  let bits = 0;
  let nBits = 0;
  let width = 9;
  let hi = EOF;
  let overflow = 512;
  let table = new Map<number, number>();
  const write = (code: number) => {
    bits |= code << nBits;
    nBits += width;
    while (nBits >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      nBits -= 8;
    }
  };
  /** Returns true when the code space ran out and the encoder was reset. */
  const incHi = (): boolean => {
    hi++;
    if (hi === overflow) {
      width++;
      overflow <<= 1;
    }
    if (hi === MAX_CODE) {
      write(CLEAR);
      width = 9;
      hi = EOF;
      overflow = 512;
      table = new Map();
      return true;
    }
    return false;
  };

  write(CLEAR);
  if (input.length > 0) {
    let code = input[0]!;
    for (let i = 1; i < input.length; i++) {
      const lit = input[i]!;
      const key = (code << 8) | lit;
      const hit = table.get(key);
      if (hit !== undefined) {
        code = hit;
        continue;
      }
      write(code);
      code = lit;
      if (incHi()) continue;
      table.set(key, hi);
    }
    write(code);
    incHi();
  }
  write(EOF);
  if (nBits > 0) out.push(bits & 0xff);
  return Buffer.from(out);
}

/** Decodes a Go LZW (LSB, 8) stream; `maxOut` bounds the output (decompression bombs). */
export function lzwDecode(input: Uint8Array, maxOut = 20 * 1024 * 1024): Buffer {
  const prefix = new Uint16Array(1 << MAX_WIDTH);
  const suffix = new Uint8Array(1 << MAX_WIDTH);
  const stack = new Uint8Array(1 << MAX_WIDTH);
  let out = Buffer.allocUnsafe(Math.min(maxOut, Math.max(64, input.length * 4)));
  let o = 0;
  const push = (b: number) => {
    if (o >= out.length) {
      if (out.length >= maxOut) throw new LzwError('lzw: output too large');
      const bigger = Buffer.allocUnsafe(Math.min(maxOut, out.length * 2));
      out.copy(bigger, 0, 0, o);
      out = bigger;
    }
    out[o++] = b;
  };
  let width = 9;
  let hi = EOF;
  let overflow = 512;
  let last = -1;
  let bits = 0;
  let nBits = 0;
  let pos = 0;
  for (;;) {
    while (nBits < width) {
      if (pos >= input.length) throw new LzwError('lzw: unexpected end of data');
      bits |= input[pos++]! << nBits;
      nBits += 8;
    }
    const code = bits & ((1 << width) - 1);
    bits >>>= width;
    nBits -= width;
    if (code < CLEAR) {
      push(code);
      if (last !== -1) {
        suffix[hi] = code;
        prefix[hi] = last;
      }
    } else if (code === CLEAR) {
      width = 9;
      hi = EOF;
      overflow = 512;
      last = -1;
      continue;
    } else if (code === EOF) {
      break;
    } else if (code <= hi) {
      let c = code;
      let sp = 0;
      if (code === hi) {
        if (last === -1) throw new LzwError('lzw: invalid code');
        // KwKwK: expansion of last followed by the first byte of last.
        let head = last;
        while (head >= CLEAR) head = prefix[head]!;
        stack[sp++] = head;
        c = last;
      }
      while (c >= CLEAR) {
        stack[sp++] = suffix[c]!;
        c = prefix[c]!;
      }
      stack[sp++] = c;
      const first = c;
      while (sp > 0) push(stack[--sp]!);
      if (last !== -1) {
        suffix[hi] = first;
        prefix[hi] = last;
      }
    } else {
      throw new LzwError('lzw: invalid code');
    }
    last = code;
    hi++;
    if (hi >= overflow) {
      if (width === MAX_WIDTH) {
        last = -1;
        hi--;
      } else {
        width++;
        overflow <<= 1;
      }
    }
  }
  return out.subarray(0, o);
}
