#!/usr/bin/env bash
# Installs what tidegate needs to build and test on Debian 12 (run as root).
# Idempotent and quick when everything is already there: apt runs only for missing packages.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --build  only what building the gateway needs
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config liburing-dev libwolfssl-dev libxxhash-dev
            libhiredis-dev libck-dev libpq-dev libcmocka-dev)
# postgresql: the storage tests start throwaway servers of their own (tests/storage/pg_harness.c)
# haproxy: the edge tests put a real one in front of tidegate (tests/integration/test_edge_haproxy.py)
# redis-server: the Redis tests start throwaway servers of their own on free loopback ports
#   (tests/storage/redis_harness.c). On a host with systemd, Debian also starts the packaged
#   service on 127.0.0.1:6379 at install; the tests neither use nor disturb it (stop it with
#   `systemctl disable --now redis-server` if it is not wanted).
# chromium: the demo page's browser test drives it headless through playwright-core
#   (tests/integration/test_demo_browser.mjs; `npm install --prefix tests/integration`)
test_pkgs=(clang libclang-rt-14-dev python3 python3-websockets nodejs npm procps postgresql
           haproxy redis-server chromium)

pkgs=("${build_pkgs[@]}")
[[ "${1:-}" == "--build" ]] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    # nodejs/npm may come from elsewhere (a newer Node on PATH is fine)
    if [[ $p == nodejs || $p == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
        continue
    fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: missing packages: ${missing[*]}; run as root (or sudo)" >&2
        exit 1
    fi
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
