#!/usr/bin/env bash
# Idle-connection memory of tidegate (one worker) against a Node `ws` server, same run.
#   bench/idle_memory.sh [COUNT]      (default 19000; both servers on loopback)
# Needs a built tidegate (build/tidegate) and tests/integration/node_modules (npm ci).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-19000}
bin=${TIDEGATE_BIN:-$root/build/tidegate}
out=${BENCH_OUT:-$root/build/bench}
mkdir -p "$out"
ulimit -n 20000

port_tg=18080 port_ref=18090
"$bin" --workers 1 --listen 127.0.0.1:$port_tg --admin-listen 127.0.0.1:19090 \
    --max-connections 20000 --idle-timeout 0 --ping-interval 0 --connect-timeout 120s \
    --max-connections-per-ip 0 --new-connections-per-ip-per-s 0 \
    2>"$out/tidegate.log" &
tg=$!
node "$root/bench/ref/ws_echo_server.mjs" $port_ref >"$out/node.log" 2>&1 &
ref=$!
trap 'kill $tg $ref 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do
    grep -q 'msg="ready"' "$out/tidegate.log" && grep -q listening "$out/node.log" && break
    sleep 0.1
done
sleep 1 # let both settle before the "before" reading
echo "tidegate (1 worker), $count idle connections:"
"$root/bench/idle_rss.py" --port $port_tg --pid $tg --count "$count" --label tidegate \
    --json "$out/idle_tidegate.json"
echo "node ws reference, $count idle connections:"
"$root/bench/idle_rss.py" --port $port_ref --pid $ref --count "$count" --label node-ws \
    --json "$out/idle_node.json"
python3 - "$out/idle_tidegate.json" "$out/idle_node.json" <<'PY'
import json, sys
t, n = (json.load(open(p)) for p in sys.argv[1:3])
print(f"per connection: tidegate {t['rss_per_connection_bytes']} B, node ws "
      f"{n['rss_per_connection_bytes']} B, ratio {n['rss_per_connection_bytes'] / max(1, t['rss_per_connection_bytes']):.1f}x")
PY
