#!/usr/bin/python3
"""TLS handshakes per second against a real tidegate (2 workers, one ECDSA P-256 certificate,
TLS on `tls_listen`) over loopback sockets, with `openssl s_time`, beside the plain TCP +
WebSocket connect rate of tidegate-bench's connect scenario against the same server in the
same run, for scale.

    bench/tls_handshake_rate.py [--rounds 3] [--seconds 10] [--procs 4]

Cases, each with --procs parallel s_time processes (their connection counts summed, divided
by the wall time of the slowest):
  full  TLS 1.3 / 1.2  `openssl s_time -connect HOST:PORT -new -time S [-tls1_2]`: a full
                       handshake per connection, then close_notify and close; no HTTP.
  resumed TLS 1.3/1.2  `... -reuse -www / ...`: every connection after the first resumes by
                       session ticket. `-www /` makes s_time read the reply (the gateway's
                       426 to a GET without Upgrade, then close_notify), which is how it
                       receives the TLS 1.3 ticket; without it no TLS 1.3 session resumes.
                       The figure includes that small HTTP exchange.
  ws connect           `tidegate-bench connect --connections N --source-ips 127.0.0.2-127.0.0.50`
                       against the plain ws port: TCP + HTTP upgrade, unpaced, 1,000 in flight.

For each case: connections/s, the gateway's CPU time (utime + stime of /proc/PID/stat,
before/after) per connection and in cores, and the client's (s_time's rusage, or the
harness's own figure) in cores: client and server share the same 2 cores.

Needs build/tidegate and build/tidegate-bench (or TIDEGATE_BIN, TIDEGATE_BENCH_BIN), openssl;
certificates are made in a temporary directory by tests/unit/tls_certs/make_certs.sh."""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TIDEGATE_BIN") or os.path.join(ROOT, "build", "tidegate")
BENCH = os.environ.get("TIDEGATE_BENCH_BIN") or os.path.join(ROOT, "build", "tidegate-bench")
TICKS = os.sysconf("SC_CLK_TCK")

CASES = (("full TLS 1.3", ["-new"]), ("full TLS 1.2", ["-new", "-tls1_2"]),
         ("resumed TLS 1.3", ["-reuse", "-www", "/"]),
         ("resumed TLS 1.2", ["-reuse", "-www", "/", "-tls1_2"]))


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start_gateway(certs, log_path):
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [BIN, "--workers", "2", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
         "--tls-listen", "127.0.0.1:0", "--tls-certs", f"{certs}/a.pem:{certs}/a.key",
         "--max-connections", "100000", "--max-connections-per-ip", "0",
         "--new-connections-per-ip-per-s", "0", "--ping-interval", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    ports = {}
    deadline = time.monotonic() + 10
    while len(ports) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"tidegate did not start; see {log_path}")
        with open(log_path) as f:
            for m in re.finditer(r'msg="listening" kind=(wss?) addr=127\.0\.0\.1:(\d+)', f.read()):
                ports[m.group(1)] = int(m.group(2))
        time.sleep(0.05)
    return proc, ports


def s_time_case(pid, port, flags, procs, seconds):
    """Runs `procs` s_time processes at once; returns the figures of the case."""
    before = cpu_s(pid)
    start = time.monotonic()
    children = []
    for _ in range(procs):
        out = tempfile.TemporaryFile()
        cmd = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-time", str(seconds),
               *flags]
        children.append((subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT), out))
    total = resumed = 0
    client_s = 0.0
    for child, out in children:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        client_s += usage.ru_utime + usage.ru_stime
        out.seek(0)
        text = out.read().decode(errors="replace")
        m = re.search(r"^(\d+) connections in [\d.]+s;", text, re.M)
        if child.returncode != 0 or m is None:
            raise SystemExit(f"s_time {flags} failed ({child.returncode}):\n{text[-2000:]}")
        total += int(m.group(1))
        # s_time prints one character per connection: 'r' resumed, '*' full
        marks = "".join(re.findall(r"^[*r]+$", text, re.M))
        resumed += marks.count("r")
    wall = time.monotonic() - start
    server = cpu_s(pid) - before
    return {"connections": total, "wall_s": wall, "per_s": total / wall,
            "resumed_share": resumed / total if total else 0.0,
            "server_us_per_conn": server / total * 1e6, "server_cores": server / wall,
            "client_cores": client_s / wall}


def connect_case(pid, port, connections, json_path):
    cmd = [BENCH, "connect", "--target", f"127.0.0.1:{port}", "--connections",
           str(connections), "--source-ips", "127.0.0.2-127.0.0.50", "--server-pids", str(pid),
           "--progress", "off", "--json", json_path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(json_path) as f:
        d = json.load(f)
    if d["ready_at_ramp_end"] != connections:
        raise SystemExit(f"connect: only {d['ready_at_ramp_end']} of {connections} ready")
    c = d["cpu"]
    return {"connections": connections, "per_s": d["connect_per_s"],
            "server_us_per_conn": c["server_us_per_op"], "server_cores": c["server_cores"],
            "client_cores": c["harness_cores"], "resumed_share": 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--procs", type=int, default=4, help="parallel s_time processes")
    ap.add_argument("--connections", type=int, default=15000, help="ws connect case")
    ap.add_argument("--json", help="write every run's figures here")
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    runs = {name: [] for name, _ in CASES}
    runs["ws connect"] = []
    with tempfile.TemporaryDirectory() as tmp:
        certs = os.path.join(tmp, "certs")
        subprocess.run(["sh", os.path.join(ROOT, "tests/unit/tls_certs/make_certs.sh"), certs],
                       check=True, capture_output=True)
        for rnd in range(1, args.rounds + 1):
            proc, ports = start_gateway(certs, os.path.join(tmp, f"tidegate-{rnd}.log"))
            try:
                time.sleep(1)
                for name, flags in CASES:
                    r = s_time_case(proc.pid, ports["wss"], flags, args.procs, args.seconds)
                    runs[name].append(r)
                    print(f"round {rnd} {name}: {r['per_s']:.0f}/s "
                          f"(resumed {r['resumed_share']:.0%}), server "
                          f"{r['server_us_per_conn']:.0f} us/conn {r['server_cores']:.2f} cores, "
                          f"client {r['client_cores']:.2f} cores", flush=True)
                r = connect_case(proc.pid, ports["ws"], args.connections,
                                 os.path.join(tmp, "connect.json"))
                runs["ws connect"].append(r)
                print(f"round {rnd} ws connect: {r['per_s']:.0f}/s, server "
                      f"{r['server_us_per_conn']:.1f} us/conn {r['server_cores']:.2f} cores, "
                      f"client {r['client_cores']:.2f} cores", flush=True)
            finally:
                proc.terminate()
                proc.wait(20)
    print("\ncase | per second: median (min-max) | server us/conn | server cores | client cores")
    for name, rs in runs.items():
        rates = [r["per_s"] for r in rs]
        print(f"{name} | {statistics.median(rates):.0f} ({min(rates):.0f}-{max(rates):.0f}) | "
              f"{statistics.median(r['server_us_per_conn'] for r in rs):.1f} | "
              f"{statistics.median(r['server_cores'] for r in rs):.2f} | "
              f"{statistics.median(r['client_cores'] for r in rs):.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
