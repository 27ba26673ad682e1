import pino from 'pino';
import { Registry } from 'prom-client';
import type { Keyring } from '../../../src/cluster/membership/keyring.js';
import { type Delegate, Memberlist } from '../../../src/cluster/membership/memberlist.js';
import { PROFILES, type Timings } from '../../../src/cluster/membership/timings.js';

/** Fast timings for in-process tests (failure detected in ~1–2 s). */
export const FAST: Timings = {
  ...PROFILES.local,
  probeInterval: 200,
  probeTimeout: 100,
  indirectChecks: 2,
  suspicionMult: 3,
  retransmitMult: 4,
  gossipInterval: 50,
  pushPullInterval: 2000,
  tcpTimeout: 1000,
  gossipToTheDeadTime: 10_000,
};

export const silentLogger = () => pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function makeNode(
  name: string,
  port: number,
  extra: {
    keyring?: Keyring;
    delegate?: Delegate;
    timings?: Timings;
    label?: string;
    meta?: Buffer;
    dropInbound?: (ip: string, port: number) => boolean;
    delegateProtocol?: { min: number; max: number; version: number };
  } = {},
): Memberlist {
  return new Memberlist({
    name,
    bindAddress: '127.0.0.1',
    bindPort: port,
    timings: extra.timings ?? FAST,
    keyring: extra.keyring,
    delegate: extra.delegate,
    label: extra.label,
    meta: extra.meta,
    dropInbound: extra.dropInbound,
    delegateProtocol: extra.delegateProtocol,
    logger: silentLogger(),
    registry: new Registry(),
  });
}

export function stateOf(ml: Memberlist, name: string): string | undefined {
  return ml.member(name)?.state;
}
