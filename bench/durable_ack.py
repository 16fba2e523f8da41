#!/usr/bin/python3
"""Publish-to-ack latency of a durable namespace against a non-durable one (issue 6).

Starts a throwaway PostgreSQL 15 with fsync on (tests/pylib/tidegate_pg.py: every commit
waits for its WAL flush, as in production) and one gateway (2 workers) on it with two
namespaces that differ only in `durable`, then runs tidegate-bench's fanout scenario
(tidegate adapter: each publish carries its payload head as `id`, so the ack tells the
latency from the scheduled send to the ack) against each namespace in turn, at each rate,
for --rounds rounds, alternating which namespace goes first, after a warm-up run of each
namespace that is not counted. The same channels (NS:c0..) are used by every run. A durable publish is acked
once its batch committed; a plain one once it has its offset (and is stored later).

    bench/durable_ack.py [--rates 1000,10000] [--rounds 3] [--seconds 10] [--channels 10]
                         [--warmup 3] [--fsync on|off]

Prints one line per run (ack p50/p99/p99.9/max, acks, refused, lost, load average) and, per
rate, the median over rounds of each figure with its range and the ratio durable / plain.
Needs build/tidegate and build/tidegate-bench (or TIDEGATE_BIN and TIDEGATE_BENCH)."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "pylib"))
from tidegate_harness import BINARY, Server  # noqa: E402
from tidegate_pg import PgServer  # noqa: E402

BENCH = os.environ.get("TIDEGATE_BENCH") or os.path.join(os.path.dirname(BINARY),
                                                         "tidegate-bench")
NAMESPACES = ("durable", "plain")
FIGURES = ("p50", "p99", "p999", "max")


def gateway_args(pg):
    args = ["--postgres-url", pg.conninfo + " application_name=tidegate-durable-ack",
            "--allow-anonymous", "true", "--client-messages-per-s", "0",
            "--max-connections-per-ip", "0", "--new-connections-per-ip-per-s", "0"]
    for ns in NAMESPACES:
        args += [f"--namespace.{ns}.join", "anonymous", f"--namespace.{ns}.publish", "anonymous"]
    return args + ["--namespace.durable.durable=true"]


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_once(server, ns, rate, seconds, channels, out_dir):
    path = os.path.join(out_dir, f"{ns}-{rate}-{len(os.listdir(out_dir))}.json")
    cmd = [BENCH, "fanout", "--adapter", "tidegate", "--namespace", ns,
           "--target", f"127.0.0.1:{server.ws_port}", "--channels", str(channels),
           "--subscribers", "1", "--publishers", "1", "--message-bytes", "100",
           "--rate", str(rate),
           "--duration", f"{seconds}s", "--threads", "1", "--progress", "off",
           "--server-pids", str(server.pid), "--label", f"{ns}-{rate}", "--json", path]
    load = load_average()
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"tidegate-bench failed ({done.returncode}):\n{done.stdout}"
                         f"{done.stderr}")
    with open(path) as f:
        r = json.load(f)
    c = r["counters"]
    ack = r["ack_latency_ms"]
    row = {f: ack[f] for f in FIGURES}
    row.update(acks=c["acks"], sent=c["msgs_sent"], refused=c["refused"], lost=c["lost"],
               load=load, server_cores=r["cpu"].get("server_cores", 0.0))
    return row


def show(ns, rate, rnd, row):
    print(f"round {rnd} {ns:8} {rate:>6}/s  ack p50 {row['p50']:7.2f}  p99 {row['p99']:7.2f}"
          f"  p99.9 {row['p999']:7.2f}  max {row['max']:7.2f} ms  acks {row['acks']}/"
          f"{row['sent']}  refused {row['refused']}  lost {row['lost']}  "
          f"gateway {row['server_cores']:.2f} cores  load {row['load']:.2f}", flush=True)


def summarize(results, rates):
    print("\nmedian over rounds [min-max], ms")
    for rate in rates:
        med = {}
        for ns in NAMESPACES:
            rows = results[(ns, rate)]
            med[ns] = {f: statistics.median(r[f] for r in rows) for f in FIGURES}
            spread = "  ".join(f"{f} {med[ns][f]:.2f} [{min(r[f] for r in rows):.2f}-"
                               f"{max(r[f] for r in rows):.2f}]" for f in FIGURES)
            print(f"{ns:8} {rate:>6}/s  {spread}")
        ratio = "  ".join(f"{f} {med['durable'][f] / med['plain'][f]:.1f}x"
                          for f in FIGURES if med["plain"][f] > 0)
        print(f"{'ratio':8} {rate:>6}/s  durable / plain: {ratio}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="1000,10000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3, help="seconds per namespace, not counted")
    ap.add_argument("--fsync", choices=("on", "off"), default="on")
    a = ap.parse_args()
    rates = [int(r) for r in a.rates.split(",")]
    for tool in (BINARY, BENCH):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"not found: {tool} (build it, or set TIDEGATE_BIN/TIDEGATE_BENCH)")
    pg = PgServer(fsync=a.fsync == "on").start()
    results = {(ns, rate): [] for ns in NAMESPACES for rate in rates}
    try:
        with Server(*gateway_args(pg), workers=2) as server, \
                tempfile.TemporaryDirectory(prefix="durable-ack-") as out_dir:
            print(f"gateway pid {server.pid} (2 workers), PostgreSQL fsync {a.fsync}, "
                  f"{a.channels} channels x 1 publisher x 1 subscriber, 100-byte messages, "
                  f"{a.seconds} s per run", flush=True)
            # Not counted: the first touch of each channel waits for its resume read, and
            # the first batches of a cold writer are slower.
            for ns in NAMESPACES:
                show(ns, rates[0], "warm-up", run_once(server, ns, rates[0], a.warmup,
                                                       a.channels, out_dir))
            for rnd in range(1, a.rounds + 1):
                order = NAMESPACES if rnd % 2 == 1 else NAMESPACES[::-1]
                for rate in rates:
                    for ns in order:
                        row = run_once(server, ns, rate, a.seconds, a.channels, out_dir)
                        results[(ns, rate)].append(row)
                        show(ns, rate, rnd, row)
    finally:
        pg.destroy()
    summarize(results, rates)


if __name__ == "__main__":
    main()
