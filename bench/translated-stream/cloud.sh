#!/usr/bin/env bash
# Time to first token added by a translated stream to a cloud provider's API: an OpenAI client streaming
# chat through the gateway to that provider's contract fake (the gateway turns the request into the
# provider's own stream call and its events back into chat.completion.chunk events), against the same
# stream straight from the fake, and against a bare Node.js proxy in front of the fake (the floor of any
# Node.js hop on this machine). Same fixed-rate load generator, alternating, ROUNDS times.
#   UPSTREAM: gemini (:streamGenerateContent?alt=sse) or bedrock (/converse-stream, AWS event-stream
#   framing; the gateway signs each request with SigV4 and the direct and bare-proxy rows send one
#   signed at start by presign.ts, so every row pays the fake's signature check; BEDROCK_AUTH=apikey:
#   a Bedrock API key on every row)
#   env: RATES ("500"), DURATION (8s), ROUNDS (2), BENCH_KIT (../shared/bench), GW_NODE_FLAGS (node flags for the gateway)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
upstream=${UPSTREAM:-gemini}; rates=${RATES:-500}; dur=${DURATION:-8s}; rounds=${ROUNDS:-2}
ensure_loadgen
npx tsc -p tsconfig.build.json
tmp=$(mktemp -d)
gw_port=$(free_port); bare_port=$(free_port)
# node itself, not npx tsx: killing the npx wrapper would leave the fake running
node --import tsx bench/translated-stream/fake.ts "$upstream" >"$tmp/fake.port" 2>"$tmp/fake.log" &
pids=($!)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/fake.port" ] && break; sleep 0.1; done
fake_port=$(cat "$tmp/fake.port")
prompt='Say hello in five words.'
case "$upstream" in
  gemini)
    model=gemini-2.5-flash
    provider='{"keys":[{"name":"bench","value":"gemini-key-1","models":[]}]}'
    path="/v1beta/models/$model:streamGenerateContent?alt=sse"
    auth='x-goog-api-key: gemini-key-1'
    printf '{"contents":[{"role":"user","parts":[{"text":"%s"}]}]}' "$prompt" >"$tmp/direct.json" ;;
  bedrock)
    model=anthropic.claude-3-haiku-20240307-v1:0
    if [ "${BEDROCK_AUTH:-sigv4}" = apikey ]; then
      provider='{"keys":[{"name":"bench","value":"bedrock-api-key-1","models":[]}]}'
    else
      provider='{"keys":[{"name":"bench","models":[],"bedrock_key_config":{"access_key":"AKIDFAKE","secret_key":"fake-secret","region":"us-east-1"}}]}'
    fi
    path="/model/$model/converse-stream"
    auth='authorization: Bearer bedrock-api-key-1'
    printf '{"messages":[{"role":"user","content":[{"text":"%s"}]}],"inferenceConfig":{"maxTokens":64}}' "$prompt" >"$tmp/direct.json" ;;
  *) echo "UPSTREAM must be gemini or bedrock" >&2; exit 2 ;;
esac
node -e 'const [f,port,fake,name,provider]=process.argv.slice(1),fs=require("fs"),c=JSON.parse(fs.readFileSync("bench/gateway.json","utf8"));
  c.server.port=Number(port);
  c.providers={[name]:{...JSON.parse(provider),network_config:{base_url:"http://127.0.0.1:"+fake,max_retries:0,max_connections:256}}};
  fs.writeFileSync(f,JSON.stringify(c))' "$tmp/gw.json" "$gw_port" "$fake_port" "$upstream" "$provider"
# shellcheck disable=SC2086 # GW_NODE_FLAGS: extra node flags for the gateway, e.g. --cpu-prof --cpu-prof-dir=DIR
node ${GW_NODE_FLAGS:-} dist/main.js start --config "$tmp/gw.json" >"$tmp/gw.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
# CPU time (user + system, ms) a process has used so far.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
# CPU per request of a process over one load line: pid, CPU before, CPU after, the line.
cpu_per_request() {
  awk -v c="$(($(cpu_ms "$1" | cut -d. -f1) - ${2%.*}))" -v n="$(echo "$3" | field requests)" 'BEGIN { printf "%.3f", c / n }'
}
node bench/translated-stream/bare-proxy.mjs "$bare_port" "http://127.0.0.1:$fake_port" &
bare_pid=$!
pids+=("$bare_pid")
for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$gw_port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
printf '{"model":"%s/%s","stream":true,"messages":[{"role":"user","content":"%s"}]}' "$upstream" "$model" "$prompt" >"$tmp/translated.json"
auth_flags=(-H "$auth")
if [ "$upstream" = bedrock ] && [ "${BEDROCK_AUTH:-sigv4}" != apikey ]; then
  # The direct and bare lines sign as the gateway does, so the fake's SigV4 check is on every line.
  auth_flags=()
  while IFS= read -r h; do auth_flags+=(-H "$h"); done < <(node --import tsx bench/translated-stream/presign.ts \
    "http://127.0.0.1:$fake_port" "$path" "$tmp/direct.json" AKIDFAKE fake-secret us-east-1)
fi
direct=(-url "http://127.0.0.1:$fake_port$path" -body "$tmp/direct.json" "${auth_flags[@]}")
bare=(-url "http://127.0.0.1:$bare_port$path" -body "$tmp/direct.json" "${auth_flags[@]}")
translated=(-url "http://127.0.0.1:$gw_port/v1/chat/completions" -body "$tmp/translated.json")
for row in direct bare translated; do
  declare -n args=$row
  "$lg" "${args[@]}" -rate 300 -duration 2s -conns 64 -label warmup >/dev/null
done
echo "# $(date -u +%FT%TZ) $upstream, $(nproc) cores, node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for rate in $rates; do
  for _ in $(seq "$rounds"); do
    d=$("$lg" "${direct[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "direct-$upstream@$rate")
    c0=$(cpu_ms "$bare_pid")
    b=$("$lg" "${bare[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "bare-proxy@$rate")
    bare_cpu=$(cpu_per_request "$bare_pid" "$c0" "$b")
    c0=$(cpu_ms "$gw_pid")
    t=$("$lg" "${translated[@]}" -rate "$rate" -duration "$dur" -conns 256 -label "translated-$upstream@$rate")
    gw_cpu=$(cpu_per_request "$gw_pid" "$c0" "$t")
    printf '%s\n%s\n%s\n' "$d" "$b" "$t"
    echo "cpu_ms_per_request bare-proxy=$bare_cpu gateway=$gw_cpu (user+system of each process over its line)"
    added "bare-proxy@$rate" "$d" "$b"
    added "translated-$upstream@$rate" "$d" "$t"
  done
done
