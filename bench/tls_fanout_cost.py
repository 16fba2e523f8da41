#!/usr/bin/python3
"""The cost of TLS on a fan-out run: one gateway (2 workers) with both listeners, the same
fan-out run over ws and over wss, alternating, in the same process lifetime. One publisher
sends --rate messages a second for --seconds into one channel joined by --subscribers
clients; the figures are the gateway's CPU time per delivery (utime + stime from
/proc/PID/stat, before the first publish and after the last delivery) and deliveries/s.

    bench/tls_fanout_cost.py [--rounds 3] [--subscribers 1000] [--rate 20] [--seconds 10]

tidegate-bench has no TLS, so both sides use the same client for a fair comparison: Python
websockets 10.4 (asyncio), the subscribers spread over --procs processes, wss through an
ssl context trusting the test CA (TLS 1.3, X25519, AES-128-GCM by default). The protocol is
docs/protocol.md: anonymous `connect`, `join_channel`, `send_message` (acked).

Needs build/tidegate (or TIDEGATE_BIN) and /usr/bin/python3 with websockets; certificates are
made in a temporary directory by tests/unit/tls_certs/make_certs.sh."""

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TIDEGATE_BIN") or os.path.join(ROOT, "build", "tidegate")
TICKS = os.sysconf("SC_CLK_TCK")
CHANNEL = "bench:c0"
OPEN_TIMEOUT_S = 60


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def client_ssl(ca):
    if ca is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def open_client(url, ca):
    """A connected client that joined CHANNEL."""
    ws = await websockets.connect(url, ssl=client_ssl(ca), server_hostname="a.test" if ca
                                  else None, compression=None, ping_interval=None,
                                  open_timeout=OPEN_TIMEOUT_S, max_queue=None)
    for request, answer in (({"type": "connect", "id": 1}, "connected"),
                            ({"type": "join_channel", "id": 2, "channel": CHANNEL}, "joined")):
        await ws.send(json.dumps(request))
        while True:
            m = json.loads(await ws.recv())
            if m.get("id") == request["id"]:
                break
        if m["type"] != answer:
            raise SystemExit(f"{request['type']} answered {m}")
    return ws


async def subscribers_main(url, ca, count, expected, conn):
    """One subscriber process: opens `count` clients, reports ready, then counts messages
    until each has `expected` or the parent says stop."""
    clients = []
    for i in range(0, count, 50):
        clients += await asyncio.gather(*(open_client(url, ca) for _ in range(min(50, count - i))))
    received = [0] * count

    async def count_messages(k, ws):
        while received[k] < expected:
            m = await ws.recv()
            if m.startswith('{"type":"message"'):
                received[k] += 1

    tasks = [asyncio.create_task(count_messages(k, ws)) for k, ws in enumerate(clients)]
    conn.send("ready")
    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, conn.recv)  # "stop" after the drain deadline
    await asyncio.wait([asyncio.gather(*tasks), stop], return_when=asyncio.FIRST_COMPLETED)
    conn.send(sum(received))  # at once: the parent's measurement window ends here
    await stop
    for t in tasks:
        t.cancel()
    await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


def subscribers_proc(url, ca, count, expected, conn):
    asyncio.run(subscribers_main(url, ca, count, expected, conn))


async def publish(url, ca, rate, seconds, payload_bytes):
    ws = await open_client(url, ca)
    acks = 0

    async def read_acks():
        nonlocal acks
        while acks < rate * seconds:
            m = await ws.recv()
            if m.startswith('{"type":"ack"'):
                acks += 1

    reader = asyncio.create_task(read_acks())
    start = time.monotonic()
    pad = "x" * payload_bytes
    for n in range(rate * seconds):
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await ws.send('{"type":"send_message","id":%d,"channel":"%s","data":{"n":%d,"p":"%s"}}'
                      % (n + 10, CHANNEL, n, pad))
    await asyncio.wait_for(reader, 30)
    await ws.close()
    return acks


def one_run(pid, url, ca, args):
    per_proc = [args.subscribers // args.procs + (1 if i < args.subscribers % args.procs else 0)
                for i in range(args.procs)]
    expected = args.rate * args.seconds
    procs = []
    for count in per_proc:
        parent, child = multiprocessing.Pipe()
        p = multiprocessing.Process(target=subscribers_proc,
                                    args=(url, ca, count, expected, child))
        p.start()
        procs.append((p, parent))
    for p, conn in procs:
        if not conn.poll(OPEN_TIMEOUT_S * 2) or conn.recv() != "ready":
            raise SystemExit("subscribers did not get ready")
    time.sleep(1)
    client_before = os.times()
    before = cpu_s(pid)
    start = time.monotonic()
    acks = asyncio.run(publish(url, ca, args.rate, args.seconds, args.payload_bytes))
    sent_s = time.monotonic() - start
    deadline = time.monotonic() + args.drain
    delivered = 0
    counts = [None] * len(procs)
    for k, (p, conn) in enumerate(procs):
        # a process reports as soon as every one of its subscribers has every message
        if conn.poll(max(0.0, deadline - time.monotonic())):
            counts[k] = conn.recv()
    end = time.monotonic()
    server = cpu_s(pid) - before
    for k, (p, conn) in enumerate(procs):
        conn.send("stop")
        delivered += counts[k] if counts[k] is not None else conn.recv()
        p.join(60)
    client_after = os.times()
    client = ((client_after.children_user + client_after.children_system +
               client_after.user + client_after.system) -
              (client_before.children_user + client_before.children_system +
               client_before.user + client_before.system))
    return {"acks": acks, "expected": expected * args.subscribers, "delivered": delivered,
            "lost": expected * args.subscribers - delivered, "window_s": end - start,
            "send_s": sent_s, "deliveries_per_s": delivered / (end - start),
            "server_cpu_s": server, "server_us_per_delivery": server / delivered * 1e6,
            "server_cores": server / (end - start), "client_cores": client / (end - start)}


def start_gateway(certs, log_path, subscribers):
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [BIN, "--workers", "2", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
         "--tls-listen", "127.0.0.1:0", "--tls-certs", f"{certs}/a.pem:{certs}/a.key",
         "--allow-anonymous", "true", "--namespace.bench.join", "anonymous",
         "--namespace.bench.publish", "anonymous", "--client-messages-per-s", "0",
         "--max-connections-per-ip", "0", "--new-connections-per-ip-per-s", "0",
         "--ping-interval", "0", "--idle-timeout", "0"],
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=20, help="messages a second, published")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--payload-bytes", type=int, default=64)
    ap.add_argument("--procs", type=int, default=2, help="subscriber processes")
    ap.add_argument("--drain", type=float, default=10.0, help="seconds to wait after sending")
    ap.add_argument("--json", help="write every run's figures here")
    args = ap.parse_args()

    runs = {"ws": [], "wss": []}
    with tempfile.TemporaryDirectory() as tmp:
        certs = os.path.join(tmp, "certs")
        subprocess.run(["sh", os.path.join(ROOT, "tests/unit/tls_certs/make_certs.sh"), certs],
                       check=True, capture_output=True)
        proc, ports = start_gateway(certs, os.path.join(tmp, "tidegate.log"), args.subscribers)
        try:
            for rnd in range(1, args.rounds + 1):
                for kind in ("ws", "wss"):
                    url = f"{kind}://127.0.0.1:{ports[kind]}/"
                    ca = os.path.join(certs, "ca.pem") if kind == "wss" else None
                    r = one_run(proc.pid, url, ca, args)
                    runs[kind].append(r)
                    print(f"round {rnd} {kind}: {r['delivered']} of {r['expected']} delivered "
                          f"in {r['window_s']:.2f} s ({r['deliveries_per_s']:.0f}/s), server "
                          f"{r['server_us_per_delivery']:.2f} us/delivery "
                          f"{r['server_cores']:.2f} cores, client {r['client_cores']:.2f} cores",
                          flush=True)
        finally:
            proc.terminate()
            proc.wait(20)
    print("\nkind | us/delivery median (min-max) | deliveries/s | server cores | client cores"
          " | lost")
    for kind, rs in runs.items():
        us = [r["server_us_per_delivery"] for r in rs]
        print(f"{kind} | {statistics.median(us):.2f} ({min(us):.2f}-{max(us):.2f}) | "
              f"{statistics.median(r['deliveries_per_s'] for r in rs):.0f} | "
              f"{statistics.median(r['server_cores'] for r in rs):.2f} | "
              f"{statistics.median(r['client_cores'] for r in rs):.2f} | "
              f"{sum(r['lost'] for r in rs)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
