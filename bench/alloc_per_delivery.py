#!/usr/bin/python3
"""Counts the heap allocations tidegate makes while delivering messages to N subscribers.

Starts tidegate with bench/alloc_count.so preloaded (built here with cc), joins N
subscribers to one channel, publishes a warm-up burst (pools and rings grow to their working
size), then reads the allocation counter (SIGUSR2), publishes M more 100-byte messages, waits
until every subscriber has received all of them, and reads the counter again. Prints the
allocations per published message and per delivery for each N given, so the figures show
whether anything is allocated per subscriber.

Usage: bench/alloc_per_delivery.py [--bin build/tidegate] [--workers 1] [--messages 200]
                                   [--subscribers 100,1000,4000]
Needs Debian's python3-websockets (/usr/bin/python3).
"""
import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))


def build_preload(out_dir):
    so = os.path.join(out_dir, "alloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so,
                    os.path.join(HERE, "alloc_count.c")], check=True)
    return so


class Gateway:
    def __init__(self, binary, workers, preload):
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
             "--workers", str(workers), "--allow-anonymous", "--client-messages-per-s", "0",
             "--namespace.bench.join=anonymous", "--namespace.bench.publish=anonymous",
             "--namespace.bench.history_size=0", "--log-level", "info",
             "--max-connections-per-ip", "0", "--new-connections-per-ip-per-s", "0"],
            stderr=subprocess.PIPE, env=dict(os.environ, LD_PRELOAD=preload), text=True)
        self.port = None
        deadline = time.monotonic() + 10
        while self.port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.search(r'kind=ws addr=127\.0\.0\.1:(\d+)', line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            raise RuntimeError("tidegate did not start")

    def alloc_count(self):
        self.proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            m = re.match(r"alloc_count calls=(\d+) bytes=(\d+)", line)
            if m:
                return int(m.group(1)), int(m.group(2))
        raise RuntimeError("no alloc_count line")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


async def open_client(port):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/", max_queue=None)
    await ws.send('{"type":"connect"}')
    assert json.loads(await ws.recv())["type"] == "connected"
    return ws


async def run_once(gw, subscribers, messages):
    channel = "bench:alloc"
    subs = []
    for i in range(0, subscribers, 200):
        batch = await asyncio.gather(*(open_client(gw.port)
                                       for _ in range(min(200, subscribers - i))))
        subs.extend(batch)
    for ws in subs:
        await ws.send(json.dumps({"type": "join_channel", "channel": channel}))
    for ws in subs:
        assert json.loads(await ws.recv())["type"] == "joined"
    publisher = await open_client(gw.port)
    payload = json.dumps({"pad": "x" * 60})  # the message's `data`: 100 bytes with framing

    async def burst(count):
        async def drain(ws):
            for _ in range(count):
                await ws.recv()
        readers = [asyncio.create_task(drain(ws)) for ws in subs]
        for _ in range(count):
            await publisher.send('{"type":"send_message","channel":"%s","data":%s}'
                                 % (channel, payload))
        for _ in range(count):
            await publisher.recv()  # the acks
        await asyncio.gather(*readers)

    for _ in range(2):  # warm-up: pools and rings reach their working size
        await burst(messages)
    before = await asyncio.to_thread(gw.alloc_count)
    await burst(messages)
    after = await asyncio.to_thread(gw.alloc_count)
    for ws in subs + [publisher]:
        await ws.close()
    return after[0] - before[0], after[1] - before[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "tidegate"))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--subscribers", default="100,1000,4000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        preload = build_preload(tmp)
        print(f"workers={args.workers} messages={args.messages}")
        print(f"{'subscribers':>11} {'allocations':>11} {'bytes':>11} {'per message':>11} "
              f"{'per delivery':>12}")
        for n in [int(x) for x in args.subscribers.split(",")]:
            gw = Gateway(args.bin, args.workers, preload)
            try:
                allocs, nbytes = asyncio.run(run_once(gw, n, args.messages))
            finally:
                gw.stop()
            print(f"{n:>11} {allocs:>11} {nbytes:>11} {allocs / args.messages:>11.2f} "
                  f"{allocs / (args.messages * n):>12.5f}")


if __name__ == "__main__":
    sys.exit(main())
