import { META_MAX } from './messages.js';
import { asObject, mpDecode, mpEncode } from './msgpack.js';

/** Serf's tag encoding of memberlist node meta: 0xFF + msgpack map string→string. */
export function encodeTags(tags: Record<string, string>): Buffer {
  const m = new Map<string, string>();
  for (const k of Object.keys(tags).sort()) m.set(k, tags[k]!);
  const meta = Buffer.concat([Buffer.from([0xff]), mpEncode(m)]);
  if (meta.length > META_MAX)
    throw new Error(`node tags encode to ${meta.length} bytes, more than ${META_MAX}`);
  return meta;
}

/** Tag names: short identifiers. Anything else in gossiped meta is dropped, never trusted. */
const TAG_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Tag values: printable ASCII, bounded (meta itself is at most META_MAX bytes). */
const TAG_VALUE = /^[\x20-\x7e]{0,256}$/;

/**
 * Decodes serf tags; meta that is empty or lacks the 0xFF prefix is serf's legacy `role` tag.
 * Tags with a malformed name or value (control bytes, non-ASCII, over-long) are dropped: meta
 * arrives from unauthenticated gossip when encryption is off.
 */
export function decodeTags(meta: Buffer): Record<string, string> {
  if (meta.length === 0) return {};
  if (meta[0] !== 0xff) {
    const role = meta.toString('utf8');
    return TAG_VALUE.test(role) ? { role } : {};
  }
  try {
    const o = asObject(mpDecode(meta.subarray(1)), 'tags');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (!Buffer.isBuffer(v) || !TAG_NAME.test(k)) continue;
      const value = v.toString('latin1');
      if (TAG_VALUE.test(value)) out[k] = value;
    }
    return out;
  } catch {
    return {};
  }
}

/** Serf message types carried in memberlist user messages. */
export const SerfMsg = { leave: 0, join: 1, pushPull: 2 } as const;

/** Serf leave intent (`00` + {LTime, Node, Prune}); makes serf show the node as `left` instead of `failed`. */
export function encodeSerfLeave(ltime: number, node: string): Buffer {
  return Buffer.concat([Buffer.from([SerfMsg.leave]), mpEncode({ LTime: ltime, Node: node, Prune: false })]);
}

/** The Lamport time in a serf join/leave/push-pull message, or undefined. Never throws. */
export function serfLTime(payload: Buffer): number | undefined {
  const t = payload[0];
  if (t !== SerfMsg.leave && t !== SerfMsg.join && t !== SerfMsg.pushPull) return undefined;
  try {
    const o = asObject(mpDecode(payload.subarray(1)), 'serf');
    const v = o.LTime;
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}
