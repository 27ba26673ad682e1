import {
  decodePushNodeState,
  decodePushPullHeader,
  encodePushNodeState,
  encodePushPullHeader,
  MsgType,
  type PushNodeState,
} from './messages.js';
import type { StreamReader } from './transport.js';

export interface RemoteState {
  join: boolean;
  nodes: PushNodeState[];
  userState: Buffer;
}

/** push/pull message: type byte, header {Join, Nodes, UserStateLen}, node states, raw user state. */
export function encodePushPull(join: boolean, nodes: PushNodeState[], userState: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([MsgType.pushPull]),
    encodePushPullHeader({ join, nodes: nodes.length, userStateLen: userState.length }),
    ...nodes.map(encodePushNodeState),
    userState,
  ]);
}

/** Reads the push/pull body (after the type byte). */
export async function readPushPull(r: StreamReader): Promise<RemoteState> {
  const header = decodePushPullHeader(await r.readMsgpack());
  const nodes: PushNodeState[] = [];
  for (let i = 0; i < header.nodes; i++) nodes.push(decodePushNodeState(await r.readMsgpack()));
  const userState =
    header.userStateLen > 0 ? Buffer.from(await r.readBytes(header.userStateLen)) : Buffer.alloc(0);
  return { join: header.join, nodes, userState };
}

/**
 * memberlist's version check before merging remote state: over all alive nodes on both sides take the
 * highest minimum and lowest maximum of the memberlist and delegate protocol ranges; every alive node's
 * current versions must lie inside. Throws with memberlist's wording otherwise.
 */
export function verifyProtocol(local: PushNodeState[], remote: PushNodeState[]): void {
  const all = [...local, ...remote].filter((n) => n.state === 0 && n.vsn.length === 6);
  if (all.length === 0) return;
  let pLo = 0;
  let pHi = 255;
  let dLo = 0;
  let dHi = 255;
  for (const n of all) {
    const v = n.vsn;
    pLo = Math.max(pLo, v[0]!);
    pHi = Math.min(pHi, v[1]!);
    dLo = Math.max(dLo, v[3]!);
    dHi = Math.min(dHi, v[4]!);
  }
  for (const n of all) {
    const v = n.vsn;
    if (v[2]! < pLo || v[2]! > pHi)
      throw new Error(`Node '${n.name}' protocol version (${v[2]}) is incompatible: [${pLo}, ${pHi}]`);
    if (v[5]! < dLo || v[5]! > dHi)
      throw new Error(
        `Node '${n.name}' delegate protocol version (${v[5]}) is incompatible: [${dLo}, ${dHi}]`,
      );
  }
}
