#!/usr/bin/env node
// Open-loop load over many virtual keys (round-robin over the first --in-use of them), bounded by
// --duration and --max-requests; prints one JSON line: sent, statuses, p50/p99 of the answers (ms).
import { Agent, request } from 'undici';

const args = {};
for (let i = 2; i < process.argv.length; i++)
  if (process.argv[i].startsWith('--')) args[process.argv[i].slice(2)] = process.argv[i + 1];
const url = args.url;
const rate = Number(args.rate ?? 1000);
const durationMs = Number(args.duration ?? 20) * 1000;
const inUse = Number(args['in-use'] ?? 1000);
const maxRequests = Math.min(Number(args['max-requests'] ?? rate * (durationMs / 1000)), 200_000);
const dispatcher = new Agent({ connections: 512, keepAliveTimeout: 10_000 });
const body = JSON.stringify({ model: 'openai/mock-model', messages: [{ role: 'user', content: 'hi' }] });
const statuses = {};
const times = [];
let sent = 0;
const inflight = new Set();
async function one(i) {
  const t0 = performance.now();
  try {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-deepintshield-vk': `vk-bench-${String(i % inUse).padStart(6, '0')}`,
      },
      body,
      dispatcher,
    });
    await res.body.text();
    statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    times.push(performance.now() - t0);
  } catch (err) {
    statuses[err.code ?? 'error'] = (statuses[err.code ?? 'error'] ?? 0) + 1;
  }
}
const started = Date.now();
let next = started;
while (Date.now() - started < durationMs && sent < maxRequests) {
  while (next <= Date.now() && sent < maxRequests) {
    const p = one(sent).finally(() => inflight.delete(p));
    inflight.add(p);
    sent++;
    next += 1000 / rate;
  }
  await new Promise((r) => setTimeout(r, Math.max(1, Math.min(20, next - Date.now()))));
}
await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 30_000))]);
times.sort((a, b) => a - b);
const pct = (q) =>
  Math.round((times[Math.min(times.length - 1, Math.floor(times.length * q))] ?? 0) * 100) / 100;
process.stdout.write(`${JSON.stringify({ sent, statuses, p50_ms: pct(0.5), p99_ms: pct(0.99) })}\n`);
await dispatcher.close();
process.exit(0);
