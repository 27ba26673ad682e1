#!/usr/bin/env bash
# Time to first token added by a translated stream, as a ratio in one run: an OpenAI client streaming
# chat through the gateway to an Anthropic-type provider (the gateway turns the request into
# /v1/messages and Anthropic's SSE events back into chat.completion.chunk events) against the same
# Anthropic stream straight from the shared mock. Same fixed-rate load generator, alternating, ROUNDS
# times; added TTFB p50/p99 and whole-stream p50 per rate. Also the pass-through stream (OpenAI → openai
# provider) in the same run, for comparison.
#   env: RATES ("500"), DURATION (8s), ROUNDS (2), BENCH_KIT (../shared/bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
rates=${RATES:-500}; dur=${DURATION:-8s}; rounds=${ROUNDS:-2}
ensure_loadgen
npx tsc -p tsconfig.build.json
tmp=$(mktemp -d)
mock_port=$(free_port); gw_port=$(free_port)
node -e 'const [f,port,mock]=process.argv.slice(1),fs=require("fs"),c=JSON.parse(fs.readFileSync("bench/gateway.json","utf8"));
  c.server.port=Number(port); c.providers.openai.network_config.base_url="http://127.0.0.1:"+mock;
  c.providers.anthropic={keys:[{name:"bench",value:"sk-ant-bench",models:[]}],network_config:{...c.providers.openai.network_config}};
  fs.writeFileSync(f,JSON.stringify(c))' "$tmp/gw.json" "$gw_port" "$mock_port"
node "$kit/mock-upstream.mjs" --port "$mock_port" >"$tmp/mock.log" 2>&1 &
pids=($!)
node dist/main.js start --config "$tmp/gw.json" >"$tmp/gw.log" 2>&1 &
pids+=($!)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$gw_port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
msgs='"messages":[{"role":"user","content":"Say hello in five words."}]'
printf '{"model":"mock-model","max_tokens":64,"stream":true,%s}' "$msgs" >"$tmp/direct.json"
printf '{"model":"anthropic/mock-model","stream":true,%s}' "$msgs" >"$tmp/translated.json"
printf '{"model":"openai/mock-model","stream":true,%s}' "$msgs" >"$tmp/passthrough.json"
direct=(-url "http://127.0.0.1:$mock_port/v1/messages" -body "$tmp/direct.json" -H 'x-api-key: sk-ant-bench' -H 'anthropic-version: 2023-06-01')
translated=(-url "http://127.0.0.1:$gw_port/v1/chat/completions" -body "$tmp/translated.json")
passthrough=(-url "http://127.0.0.1:$gw_port/v1/chat/completions" -body "$tmp/passthrough.json")
directOpenai=(-url "http://127.0.0.1:$mock_port/v1/chat/completions" -body "$tmp/passthrough.json")
"$lg" "${translated[@]}" -rate 500 -duration 3s -conns 64 -label warmup >/dev/null
"$lg" "${passthrough[@]}" -rate 500 -duration 2s -conns 64 -label warmup >/dev/null
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in $rates; do
  for _ in $(seq "$rounds"); do
    d=$("$lg" "${direct[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "direct-anthropic@$rate")
    t=$("$lg" "${translated[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "translated@$rate")
    o=$("$lg" "${directOpenai[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "direct-openai@$rate")
    p=$("$lg" "${passthrough[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "passthrough@$rate")
    printf '%s\n%s\n%s\n%s\n' "$d" "$t" "$o" "$p"
    added "translated@$rate" "$d" "$t"
    added "passthrough@$rate" "$o" "$p"
  done
done
