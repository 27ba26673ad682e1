#!/usr/bin/env bash
# Gateway overhead vs direct-to-mock, with the shared kit (../shared/bench).
# Builds dist/, starts the shared mock upstream on 18080 and the gateway with
# bench/gateway.json on 8080 (logging level info, as shipped), runs the shared
# overhead.sh, and stops both by PID.
#   env: passed through to overhead.sh (RATES, DURATION, ROUNDS, CONNS, STREAM);
#        LOG_LEVEL overrides the gateway's logging level; GW_NODE_ARGS adds node flags (e.g. --cpu-prof);
#        REQUEST_LOG=off disables the request log, REQUEST_LOG=disk keeps the store (and log) in a SQLite file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$root/../shared/bench}
cd "$root"
command -v go >/dev/null || { apt-get update -qq && apt-get install -y -qq golang-go >/dev/null; }
npx tsc -p tsconfig.build.json
tmp=$(mktemp -d)
cfg="$tmp/gateway.json"
if [ -n "${LOG_LEVEL:-}" ]; then sed "s/\"level\": \"info\"/\"level\": \"$LOG_LEVEL\"/" bench/gateway.json >"$cfg"; else cp bench/gateway.json "$cfg"; fi
if [ -n "${REQUEST_LOG:-}" ]; then
  node -e 'const f=process.argv[1],m=process.argv[2],d=process.argv[3],c=JSON.parse(require("fs").readFileSync(f,"utf8"));
    if(m==="off")c.observability={request_log:{enabled:false}};
    if(m==="disk")c.config_store={enabled:true,type:"sqlite",config:{path:d+"/config.db"}};
    require("fs").writeFileSync(f,JSON.stringify(c))' "$cfg" "$REQUEST_LOG" "$tmp"
fi
node "$kit/mock-upstream.mjs" --port 18080 >"$tmp/mock.log" 2>&1 &
mock_pid=$!
# shellcheck disable=SC2086
node ${GW_NODE_ARGS:-} dist/main.js start --config "$cfg" >"$tmp/gateway.log" 2>&1 &
gw_pid=$!
cleanup() {
  kill "$gw_pid" 2>/dev/null || true
  kill "$mock_pid" 2>/dev/null || true
  wait "$gw_pid" "$mock_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS http://127.0.0.1:8080/ready >/dev/null 2>&1 && curl -fsS http://127.0.0.1:18080/v1/models >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS http://127.0.0.1:8080/ready >/dev/null || { echo "gateway did not become ready"; tail -20 "$tmp/gateway.log"; exit 1; }
# Warm-up (JIT, connection pools) so the first measured rate is steady state, as the later ones are.
lg=${LOADGEN:-/tmp/deepintshield-loadgen}
if [ -x "$lg" ]; then
  printf '{"model":"openai/mock-model","stream":false,"messages":[{"role":"user","content":"warm up"}]}' >"$tmp/warm.json"
  "$lg" -url http://127.0.0.1:8080/v1/chat/completions -body "$tmp/warm.json" -rate 1000 -duration 3s -conns 64 -label warmup >/dev/null || true
fi
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), logging ${LOG_LEVEL:-info}, request log ${REQUEST_LOG:-on}, STREAM=${STREAM:-0}"
bash "$kit/overhead.sh" http://127.0.0.1:8080 openai/mock-model "$@"
