#!/usr/bin/env bash
# /health under load with many virtual keys: one node with KEYS virtual keys (each with a request and a
# token limit), IN_USE of them sent RATE req/s round-robin for DURATION s (open loop, its own process),
# while /health is polled every 20 ms (probe.mjs, a new connection per probe as a kubelet does; PROBER=curl
# spawns curl per probe, as before 2026-12-03, whose process starts load the 2 cores too); reports
# /health p50/p99/max over the run and after its first quarter. The mock upstream is warmed first.
#   env: KEYS (10000), IN_USE (1000), RATE (1000), DURATION (20),
#        PRELOAD (seconds of load through the gateway before the measured run), NODE_ARGS, NODE_LOG,
#        HEALTH_OUT (copy of the samples), NO_BUILD
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/bench/lib.sh"
cd "$root"
[ -n "${NO_BUILD:-}" ] || npx tsc -p tsconfig.build.json
keys=${KEYS:-10000}
tmp=$(mktemp -d)
port=$(free_port)
mock_port=$(free_port)
node -e '
  const [keys, port, mock, out] = process.argv.slice(1).map((v, i) => (i < 3 ? Number(v) : v));
  const vks = Array.from({ length: keys }, (_, i) => ({
    id: `k${i}`,
    value: `vk-bench-${String(i).padStart(6, "0")}`,
    rate_limit: { request_max_limit: 100000, request_reset_duration: "1m", token_max_limit: 10000000, token_reset_duration: "1h" },
  }));
  require("fs").writeFileSync(out, JSON.stringify({
    server: { host: "127.0.0.1", port, drain_accept_seconds: 0, drain_timeout_seconds: 2 },
    logging: { level: "warn" },
    providers: { openai: { keys: [{ name: "bench", value: "sk-bench" }],
      network_config: { base_url: `http://127.0.0.1:${mock}`, max_retries: 0, max_connections: 256 } } },
    config_store: { enabled: true, type: "sqlite", config: { path: ":memory:" } },
    governance: { enforce_virtual_keys: true, virtual_keys: vks },
  }));' "$keys" "$port" "$mock_port" "$tmp/config.json"
node "$kit/mock-upstream.mjs" --port "$mock_port" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
node ${NODE_ARGS:-} dist/main.js start --config "$tmp/config.json" >"$tmp/node.log" 2>&1 &
node_pid=$!
cleanup() {
  kill "$node_pid" "$mock_pid" 2>/dev/null || true
  [ -n "${NODE_LOG:-}" ] && cp "$tmp/node.log" "$NODE_LOG"
  wait "$node_pid" "$mock_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), keys=$keys in_use=${IN_USE:-1000} rate=${RATE:-1000} duration=${DURATION:-20}s"
# The mock upstream is a process of its own and starts cold too: warm it directly (never through the
# gateway), so the figures are the gateway's first seconds, not the mock's.
node bench/many-keys/load.mjs --url "http://127.0.0.1:$mock_port" --rate 1000 --duration 2 --in-use 1 >/dev/null
[ -n "${PRELOAD:-}" ] && node bench/many-keys/load.mjs --url "http://127.0.0.1:$port" --rate 1000 --duration "$PRELOAD" --in-use 1 >/dev/null
node bench/many-keys/load.mjs --url "http://127.0.0.1:$port" --rate "${RATE:-1000}" --duration "${DURATION:-20}" \
  --in-use "${IN_USE:-1000}" >"$tmp/load.json" &
load_pid=$!
if [ "${PROBER:-node}" = curl ]; then
  : >"$tmp/health.txt"
  while kill -0 "$load_pid" 2>/dev/null; do
    curl -s -o /dev/null -m 5 -w '%{time_total}\n' "http://127.0.0.1:$port/health" >>"$tmp/health.txt" || echo 5 >>"$tmp/health.txt"
    sleep 0.02
  done
else
  node bench/many-keys/probe.mjs --url "http://127.0.0.1:$port/health" --pid "$load_pid" >"$tmp/health.txt"
fi
wait "$load_pid"
echo "load $(cat "$tmp/load.json")"
[ -n "${HEALTH_OUT:-}" ] && cp "$tmp/health.txt" "$HEALTH_OUT"
sort -n "$tmp/health.txt" | awk '{ a[NR] = $1 * 1000 } END {
  printf "health samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", NR, a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], a[NR] }'
n=$(wc -l <"$tmp/health.txt")
tail -n +$((n / 4 + 1)) "$tmp/health.txt" | sort -n | awk '{ a[NR] = $1 * 1000 } END {
  printf "health after first quarter samples=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", NR, a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], a[NR] }'
echo "node rss_kb=$(ps -o rss= -p "$node_pid")"
