#!/usr/bin/env bash
# Quick start: install build dependencies, build, and run tidegate with its embedded
# defaults (ws://0.0.0.0:8080, admin on 127.0.0.1:9090, no database). Extra arguments go to
# tidegate, e.g. scripts/run.sh --echo --workers 2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --build
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target tidegate
exec "$root/build/tidegate" "$@"
