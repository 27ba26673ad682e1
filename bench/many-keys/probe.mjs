#!/usr/bin/env node
// Polls GET <url> every --interval ms until --pid exits (or --max-seconds pass), one new connection
// per probe the way a kubelet probes; prints one latency per line in seconds (5 for a failed probe).
import { request } from 'node:http';

const args = {};
for (let i = 2; i < process.argv.length; i++)
  if (process.argv[i].startsWith('--')) args[process.argv[i].slice(2)] = process.argv[i + 1];
const url = new URL(args.url);
const interval = Number(args.interval ?? 20);
const pid = Number(args.pid);
const deadline = Date.now() + Number(args['max-seconds'] ?? 120) * 1000;
const alive = () => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const probe = () =>
  new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve((performance.now() - t0) / 1000));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(5));
    req.end();
  });
const out = [];
while (alive() && Date.now() < deadline) {
  out.push(await probe());
  await new Promise((r) => setTimeout(r, interval));
}
process.stdout.write(out.map((t) => t.toFixed(6)).join('\n') + '\n');
