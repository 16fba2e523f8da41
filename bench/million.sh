#!/usr/bin/env bash
# A million idle connections against tidegate on one box (issue 4): several gateway
# processes share the port (SO_REUSEPORT), several tidegate-bench processes open the
# connections from many loopback source addresses, and the gateway's memory is read per
# connection and in total. Each connection is a protocol client (docs/protocol.md) that
# connected anonymously and then stays quiet, as an idle app does.
#
#   bench/million.sh [COUNT] [GATEWAYS] [BENCH_PROCS]     defaults 1000000 55 56
#
# Environment: BUILD (directory with tidegate and tidegate-bench, default build),
# OUT (default $BUILD/bench/million), PORT (default 18700), SOURCE_IPS (default
# 127.0.0.2-127.0.0.61: 60 addresses x 28K ports), HOLD (default 10s).
# The per-process open-file limit (20,000 here) is why there are so many processes: each
# gateway takes at most MAX_PER_GATEWAY connections and answers 503 beyond that.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-1000000}
gateways=${2:-55}
procs=${3:-56}
build=${BUILD:-$root/build}
out=${OUT:-$build/bench/million}
port=${PORT:-18700}
source_ips=${SOURCE_IPS:-127.0.0.2-127.0.0.61}
hold=${HOLD:-10s}
max_per_gateway=${MAX_PER_GATEWAY:-19900}
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "starting $gateways gateway processes on 127.0.0.1:$port"
for i in $(seq "$gateways"); do
    "$build/tidegate" --workers 1 --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
        --max-connections "$max_per_gateway" --idle-timeout 0 --ping-interval 0 \
        --max-connections-per-ip 0 --new-connections-per-ip-per-s 0 --allow-anonymous true \
        --recv-buffer-count 64 --log-level warn 2>"$out/tidegate-$i.log" &
    pids+=("$!")
done
sleep 2
for pid in "${pids[@]}"; do
    kill -0 "$pid" || { echo "a gateway exited at start; see $out/tidegate-*.log"; exit 1; }
done
server_pids=$(IFS=,; echo "${pids[*]}")
echo "opening $count connections from $procs harness processes, holding them $hold"
"$build/tidegate-bench" idle --adapter tidegate --target "127.0.0.1:$port" --connections "$count" \
    --procs "$procs" --threads 1 --source-ips "$source_ips" --concurrency 4000 \
    --connect-timeout 30s --ramp-timeout 5m --duration "$hold" --server-pids "$server_pids" \
    --label "$count idle" --json "$out/idle.json" --plot "$out/idle.svg" --progress on
echo "JSON and plot in $out"
