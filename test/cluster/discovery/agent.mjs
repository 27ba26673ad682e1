/**
 * A small discovery agent for the network-namespace tests: runs the real
 * method (config.type, default udp) + DiscoveryRunner from the built dist/
 * (global setup builds it; plain node starts in well under a second) and
 * prints its log lines (JSON) plus a `{"msg":"peers","peers":[...]}` line
 * whenever its peer list changes.
 * Usage: node agent.mjs '<json>'
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { DiscoveryRunner } from '../../../dist/cluster/discovery/runner.js';
import { discoverySchema } from '../../../dist/config/schema.js';

const opts = JSON.parse(process.argv[2]);
const logger = pino({ level: 'info', base: { node: opts.name } });
const members = new Set();
const runner = new DiscoveryRunner({
  config: discoverySchema.parse({ enabled: true, type: 'udp', ...opts.config }),
  nodeName: opts.name,
  gossipPort: opts.port,
  selfAddress: opts.ip,
  encryptionKey: opts.key ? Buffer.from(opts.key, 'base64') : undefined,
  logger,
  registry: new Registry(),
  stableMarginMs: 0,
  join: async (addrs) => {
    for (const a of addrs) members.add(a);
    return addrs.length;
  },
  isMember: (a) => members.has(a),
});
let last = '';
const timer = setInterval(() => {
  const p = runner.lastPeers().join(',');
  if (p !== last) {
    last = p;
    logger.info({ peers: runner.lastPeers() }, 'peers');
  }
}, 100);
const deadline = setTimeout(() => shutdown(), 120_000); // bounded: never outlives a test run
async function shutdown() {
  clearInterval(timer);
  clearTimeout(deadline);
  await runner.stop(true);
  logger.flush();
  setTimeout(() => process.exit(0), 50);
}
process.on('SIGTERM', () => void shutdown());
await runner.start();
logger.info('agent started');
