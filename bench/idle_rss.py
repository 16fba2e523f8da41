#!/usr/bin/python3
"""Idle-connection memory probe (until tidegate-bench exists, issue 4).

Opens N WebSocket connections to a server, completes every handshake, holds them idle,
and reports the server's resident memory per connection, net of what it used before the
first connection. Bounded in count and time; loopback targets only.

  bench/idle_rss.py --port 8080 --pid 1234 --count 19000 [--hold 5] [--json out.json]

RSS is read from /proc/PID/smaps_rollup (Rss), summed over every --pid given.
"""
import argparse
import base64
import json
import os
import selectors
import socket
import sys
import time

HANDSHAKE = (
    "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def rss_bytes(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no Rss line for pid {pid}")


def total_rss(pids):
    return sum(rss_bytes(p) for p in pids)


def open_connections(host, port, count, batch, deadline):
    """Connects `count` sockets, `batch` handshakes in flight at most. Returns the list of
    open sockets and the number of failures."""
    sel = selectors.DefaultSelector()
    opened, failed, started, pending = [], 0, 0, 0
    key = base64.b64encode(os.urandom(16)).decode()
    request = HANDSHAKE.format(host=f"{host}:{port}", key=key).encode()
    while (started < count or pending) and time.monotonic() < deadline:
        while started < count and pending < batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE, bytearray())
            started += 1
            pending += 1
        for k, ev in sel.select(timeout=1.0):
            s, buf = k.fileobj, k.data
            try:
                if ev & selectors.EVENT_WRITE:
                    s.send(request)
                    sel.modify(s, selectors.EVENT_READ, buf)
                    continue
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if chunk:
                buf += chunk
                if b"\r\n\r\n" not in buf:
                    continue
            sel.unregister(s)
            pending -= 1
            if buf.startswith(b"HTTP/1.1 101"):
                opened.append(s)
            else:
                failed += 1
                s.close()
    for k in list(sel.get_map().values()):
        k.fileobj.close()
        failed += 1
    return opened, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", required=True)
    ap.add_argument("--count", type=int, default=19000)
    ap.add_argument("--batch", type=int, default=500, help="handshakes in flight at once")
    ap.add_argument("--hold", type=float, default=5.0, help="seconds to hold before measuring")
    ap.add_argument("--timeout", type=float, default=300.0, help="give up after this long")
    ap.add_argument("--json", help="write the result here too")
    ap.add_argument("--label", default="server")
    a = ap.parse_args()
    if not a.host.startswith("127.") and a.host != "::1":
        sys.exit("idle_rss: loopback targets only")
    before = total_rss(a.pid)
    t0 = time.monotonic()
    conns, failed = open_connections(a.host, a.port, a.count, a.batch, t0 + a.timeout)
    connect_s = time.monotonic() - t0
    time.sleep(a.hold)
    after = total_rss(a.pid)
    alive = 0
    for s in conns:  # a closed connection reads EOF (b"") without blocking
        try:
            alive += s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    result = {
        "label": a.label, "requested": a.count, "connected": len(conns), "failed": failed,
        "alive_after_hold": alive, "connect_seconds": round(connect_s, 2),
        "rss_before_bytes": before, "rss_after_bytes": after,
        "rss_per_connection_bytes": round((after - before) / max(1, len(conns)), 1),
    }
    print(json.dumps(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    for s in conns:
        s.close()
    return 0 if failed == 0 and alive == len(conns) else 1


if __name__ == "__main__":
    sys.exit(main())
