#!/usr/bin/python3
"""Fan-out sweep: one channel, one publisher, many subscribers, at several publish rates,
against tidegate with 1 and with 2 workers and the Node `ws` broadcast reference, in
alternating runs (every configuration once per round, round after round), so all of them
see the same machine.

  bench/fanout_sweep.py [--subscribers 10000] [--rates 10,50,100,200] [--rounds 3]
                        [--servers tidegate-w1,tidegate-w2,node] [--duration 10s]
                        [--build DIR] [--alt-build DIR] [--out DIR] [--quiet-cores 0.3]
                        [--quiet-wait-s 120] [--others-max 0.3] [--retries 2]

Every run gets a fresh server and a short warm-up at a low rate (Node's JIT, tidegate's
pools), so a server that fell behind in one run does not carry its backlog into the next.
tidegate runs with the per-IP limits off (all connections come from 127.0.0.1) and the
namespace "bench" open to anonymous clients; Node runs bench/ref/ws_server.mjs in broadcast
mode (raw adapter).

The machine is shared: before each run the script waits (up to --quiet-wait-s) until it
uses less than --quiet-cores; during the run it reads /proc/stat and reports, beside the
server's and the harness's CPU, the cores the kernel's ksoftirqd threads used (loopback
receive work deferred to them, part of the benchmark) and the cores every other process
kept busy ("others"). These cover the harness's whole run (ramp, sending, drain). A run
during which others kept more than --others-max cores busy is repeated, up to --retries
more times; the busy attempts stay in --out (named ...-busyN) and are counted in
sweep.json; when every attempt was busy the last one is used.

A server named tidegate-wN-alt runs the tidegate of --alt-build instead (the harness always
comes from --build): a change measured before and after in the same alternating rounds.

Prints, per subscriber count and rate, the median of every figure over the rounds with the
lowest and highest run beside it, and writes every run's JSON plus sweep.json into --out.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT_BASE = 18820
WARMUP_RATE = 2
RUN_TIMEOUT_S = 600.0


def load_compare():
    """bench/compare has no .py suffix; its Server class and helpers are reused here."""
    path = os.path.join(ROOT, "bench", "compare")
    loader = importlib.machinery.SourceFileLoader("bench_compare", path)
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


compare = load_compare()


def proc_stat_busy_s():
    """Seconds of CPU time the whole machine spent busy (everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / ticks


def pid_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def softirq_threads_cpu_s():
    """CPU seconds of the ksoftirqd kernel threads: loopback receive work the kernel deferred
    to them is the benchmark's own, not another process's."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if not f.read().startswith("ksoftirqd/"):
                    continue
            total += pid_cpu_s(pid)
        except OSError:
            continue
    return total


def wait_quiet(limit_cores, wait_max_s):
    """Waits until the machine's busy cores stay under limit_cores for 2 s; returns the last
    reading (cores) and the seconds waited."""
    start = time.monotonic()
    while True:
        before = proc_stat_busy_s()
        time.sleep(2.0)
        cores = (proc_stat_busy_s() - before) / 2.0
        waited = time.monotonic() - start
        if cores < limit_cores or waited >= wait_max_s:
            return cores, waited


def server_for(name, args, port, out_dir, tag):
    if name.startswith("tidegate-w"):
        workers = name[len("tidegate-w"):]
        build = args.build
        if workers.endswith("-alt"):
            workers, build = workers[:-len("-alt")], args.alt_build
        if not workers.isdigit() or build is None:
            sys.exit(f"fanout_sweep: {name}: tidegate-wN, or tidegate-wN-alt with --alt-build")
        cmd = [os.path.join(build, "tidegate"), "--listen", f"127.0.0.1:{port}",
               "--admin-listen", f"127.0.0.1:{port + 1}", "--workers", workers,
               "--idle-timeout", "0", "--ping-interval", "0", "--max-connections", "100000",
               "--max-connections-per-ip", "0", "--new-connections-per-ip-per-s", "0",
               "--allow-anonymous", "true", "--namespace.bench.join", "anonymous",
               "--namespace.bench.publish", "anonymous", "--client-messages-per-s", "0"]
        return compare.Server(name, cmd, 'msg="ready"', os.path.join(out_dir, f"{tag}.log"),
                              "stderr"), "tidegate"
    if name == "node":
        cmd = ["node", os.path.join(ROOT, "bench", "ref", "ws_server.mjs"), str(port),
               "broadcast"]
        return compare.Server(name, cmd, "listening", os.path.join(out_dir, f"{tag}.log"),
                              "stdout"), "raw"
    sys.exit(f"fanout_sweep: unknown server {name} (tidegate-wN or node)")


def bench_cmd(args, port, adapter, pid, rate, duration, label, out_dir, plot):
    cmd = [os.path.join(args.build, "tidegate-bench"), "fanout", "--target", f"127.0.0.1:{port}",
           "--adapter", adapter, "--server-pids", str(pid), "--channels", "1", "--subscribers",
           str(args.subscribers), "--publishers", "1", "--message-bytes", "100", "--rate",
           str(rate), "--duration", duration, "--label", label, "--progress", "off",
           "--json", os.path.join(out_dir, f"{label}.json")]
    if plot:
        cmd += ["--plot", os.path.join(out_dir, f"{label}.svg")]
    return cmd


def run_attempt(args, name, rate, rnd, index, label):
    """One fresh server, a warm-up, then the measured run. Returns the run's JSON with the
    machine readings added under "machine"."""
    port = PORT_BASE + 4 * index
    server, adapter = server_for(name, args, port, args.out, label)
    quiet_cores, waited_s = wait_quiet(args.quiet_cores, args.quiet_wait_s)
    server.start()
    try:
        warm = bench_cmd(args, port, adapter, server.proc.pid, WARMUP_RATE, "2s",
                         f"warmup-{label}", args.out, False)
        subprocess.run(warm, stdout=subprocess.DEVNULL, timeout=RUN_TIMEOUT_S, check=True)
        cmd = bench_cmd(args, port, adapter, server.proc.pid, rate, args.duration, label,
                        args.out, True)
        print(f"$ {' '.join(cmd)}", flush=True)
        busy0, server0 = proc_stat_busy_s(), pid_cpu_s(server.proc.pid)
        softirq0 = softirq_threads_cpu_s()
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=RUN_TIMEOUT_S)
        wall_s = time.monotonic() - t0
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy1, server1 = proc_stat_busy_s(), pid_cpu_s(server.proc.pid)
        softirq_s = softirq_threads_cpu_s() - softirq0
    finally:
        server.stop()
    if proc.returncode != 0:
        sys.exit(f"fanout_sweep: tidegate-bench exited with {proc.returncode}")
    harness_s = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime +
                                                              children0.ru_stime)
    others_s = (busy1 - busy0) - (server1 - server0) - harness_s - softirq_s
    with open(os.path.join(args.out, f"{label}.json")) as f:
        result = json.load(f)
    result["machine"] = {"wall_s": wall_s, "others_cores": max(others_s, 0.0) / wall_s,
                         "softirq_threads_cores": softirq_s / wall_s,
                         "quiet_cores_before": quiet_cores, "quiet_waited_s": waited_s}
    line = summary_line(result, args.subscribers * rate)
    print(f"  {name} rate {rate} round {rnd}: {line}", flush=True)
    return result


def run_one(args, name, rate, rnd, index):
    """A run, repeated while other processes kept the machine busy. Returns the result of
    the last attempt, with the number of busy attempts before it."""
    label = f"{name}-s{args.subscribers}-r{rate}-{rnd}"
    for attempt in range(args.retries + 1):
        result = run_attempt(args, name, rate, rnd, index, label)
        result["machine"]["busy_attempts"] = attempt
        with open(  # the run's JSON keeps the machine readings too
os.path.join(args.out, f"{label}.json"), "w") as f:
            json.dump(result, f, indent=1)
        if result["machine"]["others_cores"] <= args.others_max or attempt == args.retries:
            return result
        for ext in ("json", "svg"):
            os.replace(os.path.join(args.out, f"{label}.{ext}"),
                       os.path.join(args.out, f"{label}-busy{attempt + 1}.{ext}"))
        print(f"  (others kept {result['machine']['others_cores']:.2f} cores busy: again)",
              flush=True)
    raise AssertionError("unreachable")


def lookup(result, path):
    return compare.lookup(result, path)


FIGURES = [
    ("deliveries/s", "received_per_s", "{:,.0f}"),
    ("p50 ms", "latency_ms.p50", "{:.3g}"),
    ("p90 ms", "latency_ms.p90", "{:.3g}"),
    ("p99 ms", "latency_ms.p99", "{:.3g}"),
    ("p99.9 ms", "latency_ms.p999", "{:.3g}"),
    ("lost", "counters.lost", "{:,.0f}"),
    ("server CPU-s/M", "cpu.server_us_per_op", "{:.2f}"),
    ("server cores", "cpu.server_cores", "{:.2f}"),
    ("harness CPU-s/M", "cpu.harness_us_per_op", "{:.2f}"),
    ("harness cores", "cpu.harness_cores", "{:.2f}"),
    ("send lag p99 ms", "send_lag_ms.p99", "{:.3g}"),
    ("ksoftirqd cores", "machine.softirq_threads_cores", "{:.2f}"),
    ("others cores", "machine.others_cores", "{:.2f}"),
    ("busy attempts", "machine.busy_attempts", "{:.0f}"),
]


def summary_line(result, offered):
    got = lookup(result, "received_per_s") or 0
    return (f"{got:,.0f}/s of {offered:,}/s, p50 {lookup(result, 'latency_ms.p50') or 0:.3g} "
            f"p99 {lookup(result, 'latency_ms.p99') or 0:.3g} ms, lost "
            f"{lookup(result, 'counters.lost') or 0:,}, server "
            f"{lookup(result, 'cpu.server_us_per_op') or 0:.2f} us/delivery, others "
            f"{lookup(result, 'machine.others_cores'):.2f} cores")


def aggregate(runs):
    """Median and spread (lowest, highest) of every figure over the rounds."""
    out = {}
    for label, path, _ in FIGURES:
        values = [v for v in (lookup(r, path) for r in runs) if v is not None]
        if values:
            out[label] = {"median": statistics.median(values), "min": min(values),
                          "max": max(values), "runs": values}
    return out


def print_tables(table, subscribers, servers):
    for rate in sorted(table):
        print(f"\n{subscribers} subscribers, {rate} messages/s = "
              f"{subscribers * rate:,} deliveries/s offered; median (lowest-highest)")
        print("figure".ljust(18) + "".join(s.rjust(30) for s in servers))
        for label, _, form in FIGURES:
            cells = []
            for s in servers:
                agg = table[rate].get(s, {}).get(label)
                if agg is None:
                    cells.append("n/a".rjust(30))
                    continue
                text = (f"{form.format(agg['median'])} ({form.format(agg['min'])}-"
                        f"{form.format(agg['max'])})")
                cells.append(text.rjust(30))
            print(label.ljust(18) + "".join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("--subscribers", type=int, default=10000)
    ap.add_argument("--rates", default="10,50,100,200")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--servers", default="tidegate-w1,tidegate-w2,node")
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--alt-build", help="tidegate of servers named tidegate-wN-alt")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "fanout-sweep"))
    ap.add_argument("--quiet-cores", type=float, default=0.3,
                    help="wait before a run until the machine uses fewer cores than this")
    ap.add_argument("--quiet-wait-s", type=float, default=120.0)
    ap.add_argument("--others-max", type=float, default=0.3,
                    help="repeat a run during which other processes used more cores")
    ap.add_argument("--retries", type=int, default=2)
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    servers = args.servers.split(",")
    if not 1 <= args.rounds <= 20 or not 1 <= args.subscribers <= 19000:
        sys.exit("fanout_sweep: --rounds 1..20, --subscribers 1..19000 (one harness process)")
    for binary in ("tidegate", "tidegate-bench"):
        if not os.access(os.path.join(args.build, binary), os.X_OK):
            sys.exit(f"fanout_sweep: no {binary} in {args.build} (build it, or give --build)")
    if "node" in servers:
        compare.ensure_node_modules()
    os.makedirs(args.out, exist_ok=True)
    results = {rate: {s: [] for s in servers} for rate in rates}
    for rnd in range(1, args.rounds + 1):
        for rate in rates:
            for index, name in enumerate(servers):
                results[rate][name].append(run_one(args, name, rate, rnd, index))
    table = {rate: {s: aggregate(results[rate][s]) for s in servers} for rate in rates}
    print_tables(table, args.subscribers, servers)
    with open(os.path.join(args.out, "sweep.json"), "w") as f:
        json.dump({"subscribers": args.subscribers, "rates": rates, "rounds": args.rounds,
                   "servers": servers, "duration": args.duration,
                   "table": {str(k): v for k, v in table.items()}}, f, indent=2)
    print(f"\nruns, plots and sweep.json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
