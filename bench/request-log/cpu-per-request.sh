#!/usr/bin/env bash
# Request-log cost of the real node as CPU time per request, in one run: two gateway processes
# (dist/main.js with bench/gateway.json), one with observability.request_log off and one with the
# default (on, into the node's SQLite store, written by the worker thread), behind the shared mock
# upstream. The same fixed-rate load goes to each in turn, ROUNDS times; for each run the gateway's
# CPU time (utime + stime from /proc, all its threads) is divided by the requests served. CPU per
# request is what caps throughput, and unlike latency it hardly moves with other load on the box.
#   env: RATE (1000), DURATION (8s), ROUNDS (3), BENCH_KIT (../shared/bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
rate=${RATE:-1000}; dur=${DURATION:-8s}; rounds=${ROUNDS:-3}
ensure_loadgen
npx tsc -p tsconfig.build.json
tmp=$(mktemp -d)
mock_port=$(free_port); off_port=$(free_port); on_port=$(free_port)
config() { # port, request log mode, path
  node -e 'const [f,port,mode,mock,dir]=process.argv.slice(1),fs=require("fs"),c=JSON.parse(fs.readFileSync("bench/gateway.json","utf8"));
    c.server.port=Number(port); c.providers.openai.network_config.base_url="http://127.0.0.1:"+mock;
    c.config_store={enabled:true,type:"sqlite",config:{path:dir+"/"+mode+".db"}};
    if(mode==="off")c.observability={request_log:{enabled:false}};
    fs.writeFileSync(f,JSON.stringify(c))' "$tmp/$2.json" "$1" "$2" "$mock_port" "$tmp"
}
config "$off_port" off; config "$on_port" on
node "$kit/mock-upstream.mjs" --port "$mock_port" >"$tmp/mock.log" 2>&1 &
pids=($!)
node dist/main.js start --config "$tmp/off.json" >"$tmp/off.log" 2>&1 &
off_pid=$!; pids+=($off_pid)
node dist/main.js start --config "$tmp/on.json" >"$tmp/on.log" 2>&1 &
on_pid=$!; pids+=($on_pid)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for p in "$off_port" "$on_port"; do
  for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$p/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done
printf '{"model":"openai/mock-model","stream":false,"messages":[{"role":"user","content":"Say hello in five words."}]}' >"$tmp/body.json"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # label, port, pid
  local t0 t1 out n
  t0=$(ticks "$3")
  out=$("$lg" -url "http://127.0.0.1:$2/v1/chat/completions" -body "$tmp/body.json" -rate "$rate" -duration "$dur" -conns 256 -label "$1@$rate")
  t1=$(ticks "$3")
  n=$(echo "$out" | sed -n 's/.* requests=\([0-9]*\).*/\1/p')
  echo "$out"
  awk -v l="$1" -v d="$((t1 - t0))" -v n="$n" -v hz="$hz" 'BEGIN { printf "cpu %s us_per_request=%.1f (%d requests)\n", l, d * 1e6 / hz / n, n }'
}
for p in "$off_port" "$on_port"; do "$lg" -url "http://127.0.0.1:$p/v1/chat/completions" -body "$tmp/body.json" -rate "$rate" -duration 3s -conns 64 -label warmup >/dev/null; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  run log-off "$off_port" "$off_pid"
  run log-on "$on_port" "$on_pid"
done
curl -fsS "http://127.0.0.1:$on_port/metrics" | grep -E '^deepintshield_request_log_(written|dropped)_total' | sed 's/^/# log-on node: /'
