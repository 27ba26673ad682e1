#!/usr/bin/env bash
# Overload curve of one node: offered vs served vs admitted p99, with the
# overload guard (server.overload, default thresholds, plus shed_event_loop_utilization
# SHED_UTILIZATION, default 0.98, off by default in the config) and without it
# (server.overload.enabled=false, the baseline), alternating in one run.
# Builds dist/, starts the shared mock upstream and two nodes (same config
# but the guard), measures the guarded node's closed-loop maximum, then
# offers 0.5x..2x of it open loop to each node in turn.
#   env: DURATION (8s), FACTORS ("0.5 1 1.5 2"), CONNS (512), MOCK_LATENCY_MS (5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$root/../shared/bench}
cd "$root"
npx tsc -p tsconfig.build.json
lg=${LOADGEN:-/tmp/deepintshield-loadgen}
[ -x "$lg" ] || { command -v go >/dev/null && (cd "$kit/loadgen" && go build -o "$lg" main.go); }
tmp=$(mktemp -d)
dur=${DURATION:-8s}
conns=${CONNS:-512}
mk() { # port, enabled
  cat >"$tmp/gw-$1.json" <<JSON
{ "server": { "host": "127.0.0.1", "port": $1, "drain_accept_seconds": 0, "drain_timeout_seconds": 2,
              "overload": { "enabled": $2, "shed_event_loop_utilization": ${SHED_UTILIZATION:-0.98} } },
  "logging": { "level": "warn" },
  "providers": { "openai": { "keys": [{ "name": "bench", "value": "sk-bench" }],
    "network_config": { "base_url": "http://127.0.0.1:18081", "max_retries": 0, "max_connections": 256 } } },
  "config_store": { "enabled": true, "type": "sqlite", "config": { "path": ":memory:" } } }
JSON
}
mk 8091 true
mk 8092 false
node "$kit/mock-upstream.mjs" --port 18081 --latency-ms "${MOCK_LATENCY_MS:-5}" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
node dist/main.js start --config "$tmp/gw-8091.json" >"$tmp/on.log" 2>&1 &
on_pid=$!
node dist/main.js start --config "$tmp/gw-8092.json" >"$tmp/off.log" 2>&1 &
off_pid=$!
cleanup() {
  kill "$on_pid" "$off_pid" "$mock_pid" 2>/dev/null || true
  wait "$on_pid" "$off_pid" "$mock_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:8091/ready >/dev/null 2>&1 && curl -fsS http://127.0.0.1:8092/ready >/dev/null 2>&1 && break
  sleep 0.1
done
printf '{"model":"openai/mock-model","stream":false,"messages":[{"role":"user","content":"hi"}]}' >"$tmp/body.json"
run() { "$lg" -url "http://127.0.0.1:$1/v1/chat/completions" -body "$tmp/body.json" "${@:2}"; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), mock latency ${MOCK_LATENCY_MS:-5} ms"
run 8091 -rate 500 -duration 3s -conns 64 -label warmup >/dev/null
run 8092 -rate 500 -duration 3s -conns 64 -label warmup >/dev/null
unloaded=$(run 8091 -rate 200 -duration 4s -conns 64 -label unloaded)
echo "$unloaded"
max=$(run 8091 -rate 0 -duration "$dur" -conns 64 -label max | tee /dev/stderr | sed -E 's/.* rps=([0-9]+).*/\1/')
echo "max_rps=$max"
for f in ${FACTORS:-0.5 1 1.5 2}; do
  rate=$(awk -v m="$max" -v f="$f" 'BEGIN { printf "%d", m * f }')
  for port in 8091 8092; do
    label=$([ "$port" = 8091 ] && echo guard || echo baseline)
    # /ready sampled every 100 ms during the step and after it, until it answers 200 again.
    (while :; do curl -s -o /dev/null -m 1 -w '%{http_code}\n' "http://127.0.0.1:$port/ready" || echo 000; sleep 0.1; done) >"$tmp/ready.txt" &
    poll_pid=$!
    out=$(run "$port" -rate "$rate" -duration "$dur" -conns "$conns" -label "$label@${f}x")
    kill "$poll_pid" 2>/dev/null || true
    wait "$poll_pid" 2>/dev/null || true
    not_ready=$(grep -vc '^200$' "$tmp/ready.txt" || true)
    samples=$(wc -l <"$tmp/ready.txt")
    reqs=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$out")
    errs=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$out")
    secs=$(sed -E 's/s$//' <<<"$dur")
    served=$(awk -v r="$reqs" -v e="$errs" -v s="$secs" 'BEGIN { printf "%d", (r - e) / s }')
    t0=$(date +%s%N)
    while [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/ready")" != 200 ]; do sleep 0.1; done
    echo "$out served_rps=$served offered_rps=$rate not_ready=$not_ready/$samples ready_again_ms=$((($(date +%s%N) - t0) / 1000000))"
    sleep 2
  done
done
