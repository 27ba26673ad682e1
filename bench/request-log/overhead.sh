#!/usr/bin/env bash
# Request-log cost on the request path, as a ratio in one run: the same fixed-rate load goes, alternating, to
# two identical minimal proxies in front of the shared mock upstream, one recording every request with the
# request-log writer into a real SQLite file (WAL, batched), one not; then max throughput (closed loop) of both.
# The gateway's own overhead (bench/overhead.sh) measures the whole node once the gateway calls the seam.
#   env: RATES ("1000 2000"), DURATION (8s), ROUNDS (2), CONNS (32), BENCH_KIT (../shared/bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
rates=${RATES:-1000 2000}; dur=${DURATION:-8s}; rounds=${ROUNDS:-2}; conns=${CONNS:-32}
ensure_loadgen
tmp=$(mktemp -d)
mock_port=$(free_port); off_port=$(free_port); on_port=$(free_port)
node "$kit/mock-upstream.mjs" --port "$mock_port" >"$tmp/mock.log" 2>&1 &
mock_pid=$!
npx tsx bench/request-log/server.ts --port "$off_port" --upstream "http://127.0.0.1:$mock_port" --log off >"$tmp/off.log" 2>&1 &
off_pid=$!
npx tsx bench/request-log/server.ts --port "$on_port" --upstream "http://127.0.0.1:$mock_port" --log on --db "$tmp/log.db" >"$tmp/on.log" 2>&1 &
on_pid=$!
cleanup() {
  kill "$mock_pid" "$off_pid" "$on_pid" 2>/dev/null || true
  wait "$mock_pid" "$off_pid" "$on_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
printf '{"model":"mock-model","stream":false,"messages":[{"role":"user","content":"Say hello in five words."}]}' >"$tmp/body.json"
for p in "$mock_port" "$off_port" "$on_port"; do
  for _ in $(seq 100); do curl -fsS -o /dev/null -X POST -d @"$tmp/body.json" "http://127.0.0.1:$p/v1/chat/completions" 2>/dev/null && break; sleep 0.2; done
done
for p in "$off_port" "$on_port"; do "$lg" -url "http://127.0.0.1:$p/v1/chat/completions" -body "$tmp/body.json" -rate 1000 -duration 3s -conns 64 -label warmup >/dev/null; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version)"
for rate in $rates; do
  for _ in $(seq "$rounds"); do
    a=$("$lg" -url "http://127.0.0.1:$off_port/v1/chat/completions" -body "$tmp/body.json" -rate "$rate" -duration "$dur" -conns 256 -label "log-off@$rate")
    b=$("$lg" -url "http://127.0.0.1:$on_port/v1/chat/completions" -body "$tmp/body.json" -rate "$rate" -duration "$dur" -conns 256 -label "log-on@$rate")
    echo "$a"; echo "$b"
    awk -v rate="$rate" -v a50="$(echo "$a" | field p50_ms)" -v b50="$(echo "$b" | field p50_ms)" \
        -v a99="$(echo "$a" | field p99_ms)" -v b99="$(echo "$b" | field p99_ms)" \
        'BEGIN { printf "log_on_vs_off@%s p50_ratio=%.3f p99_ratio=%.3f p50_added_ms=%+.3f\n", rate, b50/a50, b99/a99, b50-a50 }'
  done
done
for _ in $(seq "$rounds"); do
  a=$("$lg" -url "http://127.0.0.1:$off_port/v1/chat/completions" -body "$tmp/body.json" -rate 0 -conns "$conns" -duration "$dur" -label log-off-max)
  b=$("$lg" -url "http://127.0.0.1:$on_port/v1/chat/completions" -body "$tmp/body.json" -rate 0 -conns "$conns" -duration "$dur" -label log-on-max)
  echo "$a"; echo "$b"
  awk -v a="$(echo "$a" | field rps)" -v b="$(echo "$b" | field rps)" 'BEGIN { printf "max_rps log_off=%d log_on=%d ratio=%.3f\n", a, b, b/a }'
done
rows=$(node -e 'const D=require("better-sqlite3");const d=new D(process.argv[1],{readonly:true});console.log(d.prepare("select count(*) n from request_log").get().n)' "$tmp/log.db")
echo "rows_written=$rows"
