#!/usr/bin/env node
// Bounded open-loop load generator for the tests (the fault-injection suite runs
// it inside a test network namespace with ip netns exec): sends a fixed rate of chat
// requests, a share of them streaming, and prints one JSON summary line at the end.
// Latency of successful requests is measured from when each was due (no coordinated
// omission) and reported as p50/p99 in ms.
// Every run is bounded by --duration and --max-requests.
import { Agent, request } from 'undici';

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i].startsWith('--')) args[process.argv[i].slice(2)] = process.argv[i + 1];
}
const url = args.url ?? 'http://127.0.0.1:8080';
const rate = Number(args.rate ?? 300);
const durationMs = Number(args.duration ?? 10) * 1000;
const streamShare = Number(args['stream-share'] ?? 0.3);
const maxRequests = Math.min(Number(args['max-requests'] ?? 200_000), 200_000);
const model = args.model ?? 'mock/mock-model';
const headers = { 'content-type': 'application/json', ...(args.vk ? { 'x-deepintshield-vk': args.vk } : {}) };

const dispatcher = new Agent({
  connections: Math.min(Number(args.connections ?? 64), 1024),
  keepAliveTimeout: 10_000,
  headersTimeout: 30_000,
  bodyTimeout: 30_000,
});
const stats = {
  sent: 0,
  ok: 0,
  failed: 0,
  statuses: {},
  errors: {},
  streams: 0,
  brokenStreams: 0,
  timeline: [],
};
const bump = (obj, k) => {
  obj[k] = (obj[k] ?? 0) + 1;
};

const latencies = [];
/**
 * From when each request was handed to the HTTP client: the system's answer time without this generator's
 * lag behind its schedule, but with any wait for a free connection (keep --connections above what is in flight).
 */
const service = [];

async function one(i, due) {
  const sent = performance.now();
  const stream = Math.random() < streamShare;
  const body = JSON.stringify({ model, stream, messages: [{ role: 'user', content: `request ${i}` }] });
  try {
    const res = await request(`${url}/v1/chat/completions`, { method: 'POST', headers, body, dispatcher });
    bump(stats.statuses, res.statusCode);
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      stats.failed++;
      return;
    }
    if (stream) {
      stats.streams++;
      if (!text.includes('data: [DONE]')) {
        stats.brokenStreams++;
        stats.failed++;
        return;
      }
    }
    stats.ok++;
    latencies.push(performance.now() - due);
    service.push(performance.now() - sent);
  } catch (err) {
    bump(stats.errors, err.code ?? err.name ?? 'error');
    stats.failed++;
  }
}

const started = Date.now();
const inflight = new Set();
const intervalMs = 1000 / rate;
let next = started;
const second = { at: started, sent: 0, failed: 0 };
while (Date.now() - started < durationMs && stats.sent < maxRequests) {
  const now = Date.now();
  while (next <= now && stats.sent < maxRequests) {
    const failedBefore = stats.failed;
    const p = one(stats.sent, performance.now() - (Date.now() - next)).finally(() => {
      inflight.delete(p);
      if (stats.failed > failedBefore) second.failed++;
    });
    inflight.add(p);
    stats.sent++;
    second.sent++;
    next += intervalMs;
  }
  if (now - second.at >= 1000) {
    stats.timeline.push({ t: Math.round((now - started) / 1000), sent: second.sent, failed: second.failed });
    second.at = now;
    second.sent = 0;
    second.failed = 0;
  }
  await new Promise((r) => setTimeout(r, Math.max(1, Math.min(20, next - Date.now()))));
}
await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 30_000))]);
stats.durationMs = Date.now() - started;
latencies.sort((a, b) => a - b);
service.sort((a, b) => a - b);
const pct = (q, xs = latencies) =>
  Math.round((xs[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? 0) * 100) / 100;
stats.latency = { p50_ms: pct(0.5), p99_ms: pct(0.99) };
stats.service = { p50_ms: pct(0.5, service), p99_ms: pct(0.99, service) };
process.stdout.write(`${JSON.stringify(stats)}\n`);
await dispatcher.close();
process.exit(0);
