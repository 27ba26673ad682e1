import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/*
 * Ports come from below the kernel's ephemeral range, never from listen(0).
 * A port the OS picked for listen(0) is back in the ephemeral pool the moment
 * the probe closes, so any outgoing connection (and a load test makes
 * thousands) can take it before the node under test binds it: CI once lost a
 * run to EADDRINUSE that way. Below the range the OS never hands a port out by
 * itself; the only contenders are other test workers, and each vitest worker
 * gets its own slice (VITEST_POOL_ID), walked with a cursor so one file never
 * gets the same port twice.
 */

const FLOOR = 10_000;
const SLICE = 1_000;

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > FLOOR + SLICE) return low;
  } catch {
    // not Linux: fall through to the IANA dynamic range's start
  }
  return 49_152;
}

const slices = Math.floor((ephemeralStart() - FLOOR) / SLICE);
const worker = Number(process.env.VITEST_POOL_ID ?? 0);
const sliceStart = FLOOR + ((Number.isInteger(worker) ? worker : 0) % slices) * SLICE;
// A random start within the slice: the previous file in this worker may have left sockets in TIME_WAIT.
let cursor = Math.floor(Math.random() * SLICE);

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/** A port free on `host` for both TCP and UDP (gossip uses both), unique within this test worker. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < SLICE; attempt++) {
    const port = sliceStart + (cursor++ % SLICE);
    if ((await tcpFree(port, host)) && (await udpFree(port, host))) return port;
  }
  throw new Error(`no free TCP+UDP port in ${sliceStart}-${sliceStart + SLICE - 1}`);
}

export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await freePort(host));
  return out;
}
