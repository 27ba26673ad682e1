# Shared by the bench scripts (source it after setting `root`): the shared kit's path, the load
# generator (built from the kit with Debian's golang-go on first use) and a free loopback port.
kit=${BENCH_KIT:-$root/../shared/bench}
lg=${LOADGEN:-/tmp/deepintshield-loadgen}
ensure_loadgen() {
  [ -x "$lg" ] && return
  command -v go >/dev/null || { apt-get update -qq && apt-get install -y -qq golang-go >/dev/null; }
  (cd "$kit/loadgen" && GO111MODULE=off GOCACHE=${GOCACHE:-/tmp/gocache} go build -o "$lg" .)
}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# One field of a load-generator line ("… name=value …").
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
# What a gateway line adds over a direct line: TTFB p50, whole-stream p50 and p99, and its errors.
added() { # label, direct line, gateway line
  awk -v l="$1" -v d50="$(echo "$2" | field ttfb_p50_ms)" -v g50="$(echo "$3" | field ttfb_p50_ms)" \
      -v d99="$(echo "$2" | field p99_ms)" -v g99="$(echo "$3" | field p99_ms)" \
      -v ds="$(echo "$2" | field p50_ms)" -v gs="$(echo "$3" | field p50_ms)" -v ge="$(echo "$3" | field errors)" \
      'BEGIN { printf "added %s ttfb_p50_ms=%+.3f stream_p50_ms=%+.3f stream_p99_ms=%+.3f errors=%s\n", l, g50-d50, gs-ds, g99-d99, ge }'
}
