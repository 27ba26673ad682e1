#!/usr/bin/env bash
# Time to first token added by a translated stream to a Gemini-type upstream: an OpenAI client streaming
# chat through the gateway to the Gemini contract fake (the gateway turns the request into
# :streamGenerateContent?alt=sse and Gemini's events back into chat.completion.chunk events) against the
# same Gemini stream straight from the fake. Same fixed-rate load generator, alternating, ROUNDS times.
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
gw_port=$(free_port)
# node itself, not npx tsx: killing the npx wrapper would leave the fake running
node --import tsx bench/translated-stream/gemini-fake.ts >"$tmp/fake.port" 2>"$tmp/fake.log" &
pids=($!)
for _ in $(seq 100); do [ -s "$tmp/fake.port" ] && break; sleep 0.1; done
fake_port=$(cat "$tmp/fake.port")
node -e 'const [f,port,fake]=process.argv.slice(1),fs=require("fs"),c=JSON.parse(fs.readFileSync("bench/gateway.json","utf8"));
  c.server.port=Number(port);
  c.providers={gemini:{keys:[{name:"bench",value:"gemini-key-1",models:[]}],network_config:{base_url:"http://127.0.0.1:"+fake,max_retries:0,max_connections:256}}};
  fs.writeFileSync(f,JSON.stringify(c))' "$tmp/gw.json" "$gw_port" "$fake_port"
node dist/main.js start --config "$tmp/gw.json" >"$tmp/gw.log" 2>&1 &
pids+=($!)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$gw_port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
printf '{"contents":[{"role":"user","parts":[{"text":"Say hello in five words."}]}]}' >"$tmp/direct.json"
printf '{"model":"gemini/gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"Say hello in five words."}]}' >"$tmp/translated.json"
direct=(-url "http://127.0.0.1:$fake_port/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse" -body "$tmp/direct.json" -H 'x-goog-api-key: gemini-key-1')
translated=(-url "http://127.0.0.1:$gw_port/v1/chat/completions" -body "$tmp/translated.json")
"$lg" "${direct[@]}" -rate 300 -duration 2s -conns 64 -label warmup >/dev/null
"$lg" "${translated[@]}" -rate 300 -duration 3s -conns 64 -label warmup >/dev/null
echo "# $(date -u +%FT%TZ) $(nproc) cores, node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in $rates; do
  for _ in $(seq "$rounds"); do
    d=$("$lg" "${direct[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "direct-gemini@$rate")
    t=$("$lg" "${translated[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "translated-gemini@$rate")
    printf '%s\n%s\n' "$d" "$t"
    added "translated-gemini@$rate" "$d" "$t"
  done
done
