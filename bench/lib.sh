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
