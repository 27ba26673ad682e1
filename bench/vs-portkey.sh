#!/usr/bin/env bash
# DeepIntShield vs the Portkey AI gateway in one run, with the shared kit (../shared/bench): the
# same mock upstream behind both, the same load generator, measured one after the other.
# Installs @portkey-ai/gateway (pinned) into a cache directory on first use.
#   env: RATES (default "1000"), ROUNDS (2), DURATION (8s), CONNS (32), PORTKEY_VERSION (1.15.2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${BENCH_KIT:-$root/../shared/bench}
version=${PORTKEY_VERSION:-1.15.2}
pk_dir=${PORTKEY_DIR:-/tmp/deepintshield-portkey-$version}
cd "$root"
command -v go >/dev/null || { apt-get update -qq && apt-get install -y -qq golang-go >/dev/null; }
if [ ! -f "$pk_dir/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
  mkdir -p "$pk_dir"
  (cd "$pk_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund "@portkey-ai/gateway@$version" >/dev/null)
fi
npx tsc -p tsconfig.build.json
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
node "$kit/mock-upstream.mjs" --port 18080 >"$tmp/mock.log" 2>&1 &
pids+=($!)
node dist/main.js start --config bench/gateway.json >"$tmp/gateway.log" 2>&1 &
pids+=($!)
(cd "$pk_dir" && exec node node_modules/@portkey-ai/gateway/build/start-server.js --port 8787) >"$tmp/portkey.log" 2>&1 &
pids+=($!)
# Portkey routes by headers: provider, upstream base URL, and a key it passes on (the mock ignores it).
pk_headers=(-H 'x-portkey-provider: openai' -H 'x-portkey-custom-host: http://127.0.0.1:18080/v1' -H 'authorization: Bearer mock')
wait_for() {
  for _ in $(seq 150); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "$1 did not come up"
  tail -20 "$tmp"/*.log
  exit 1
}
wait_for http://127.0.0.1:18080/v1/models
wait_for http://127.0.0.1:8080/ready
wait_for http://127.0.0.1:8787/
# Warm-up of both (JIT, connection pools), when the kit's load generator is already built.
lg=${LOADGEN:-/tmp/deepintshield-loadgen}
if [ -x "$lg" ]; then
  printf '{"model":"openai/mock-model","messages":[{"role":"user","content":"warm up"}]}' >"$tmp/ours.json"
  printf '{"model":"mock-model","messages":[{"role":"user","content":"warm up"}]}' >"$tmp/pk.json"
  "$lg" -url http://127.0.0.1:8080/v1/chat/completions -body "$tmp/ours.json" -rate 1000 -duration 3s -label warmup >/dev/null || true
  "$lg" -url http://127.0.0.1:8787/v1/chat/completions -body "$tmp/pk.json" -rate 500 -duration 3s -label warmup "${pk_headers[@]}" >/dev/null || true
fi
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), Portkey $version"
export RATES=${RATES:-1000}
echo "## DeepIntShield"
bash "$kit/overhead.sh" http://127.0.0.1:8080 openai/mock-model
echo "## Portkey"
bash "$kit/overhead.sh" http://127.0.0.1:8787 mock-model -- "${pk_headers[@]}"
