#!/usr/bin/env bash
# Idle-connection memory of wss against plain ws: one tidegate (one worker, TLS on) per run,
# COUNT idle connections held on its plain port or on its wss port, runs alternating.
#   bench/idle_memory_wss.sh [COUNT] [ROUNDS]      (default 10000 connections, 2 rounds)
# Needs a built tidegate (build/tidegate, or TIDEGATE_BIN) and openssl (test certificates are
# made in a temporary directory by tests/unit/tls_certs/make_certs.sh and deleted after).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-10000}
rounds=${2:-2}
bin=${TIDEGATE_BIN:-$root/build/tidegate}
out=${BENCH_OUT:-$root/build/bench}
mkdir -p "$out"
ulimit -n 20000
certs=$(mktemp -d)
tg=
cleanup() {
    [ -n "$tg" ] && kill "$tg" 2>/dev/null && wait "$tg" 2>/dev/null
    rm -rf "$certs"
}
trap cleanup EXIT
sh "$root/tests/unit/tls_certs/make_certs.sh" "$certs"

port_ws=18080 port_wss=18443
for round in $(seq "$rounds"); do
    for kind in ws wss; do
        "$bin" --workers 1 --listen 127.0.0.1:$port_ws --tls-listen 127.0.0.1:$port_wss \
            --tls-certs "$certs/a.pem:$certs/a.key" --admin-listen 127.0.0.1:19090 \
            --max-connections 20000 --idle-timeout 0 --ping-interval 0 --connect-timeout 120s \
            --max-connections-per-ip 0 --new-connections-per-ip-per-s 0 \
            2>"$out/tidegate-$kind.log" &
        tg=$!
        for _ in $(seq 100); do
            grep -q 'msg="ready"' "$out/tidegate-$kind.log" && break
            sleep 0.1
        done
        sleep 1 # settle before the "before" reading
        echo "round $round: $kind, $count idle connections:"
        if [ $kind = ws ]; then
            "$root/bench/idle_rss.py" --port $port_ws --pid $tg --count "$count" --label ws \
                --json "$out/idle_ws_$round.json"
        else
            "$root/bench/idle_rss.py" --port $port_wss --pid $tg --count "$count" --label wss \
                --tls "$certs/ca.pem" --sni a.test --json "$out/idle_wss_$round.json"
        fi
        kill "$tg"
        wait "$tg" 2>/dev/null || true
        tg=
    done
done
python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
for r in range(1, rounds + 1):
    ws, wss = (json.load(open(f"{out}/idle_{k}_{r}.json")) for k in ("ws", "wss"))
    a, b = ws["rss_per_connection_bytes"], wss["rss_per_connection_bytes"]
    print(f"round {r}: per connection ws {a:.0f} B, wss {b:.0f} B, TLS adds {b - a:.0f} B")
PY
