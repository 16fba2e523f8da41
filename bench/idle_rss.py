#!/usr/bin/python3
"""Idle-connection memory probe (until tidegate-bench exists, issue 4).

Opens N WebSocket connections to a server, completes every handshake, holds them idle,
and reports the server's resident memory per connection, net of what it used before the
first connection. Bounded in count and time; loopback targets only.

  bench/idle_rss.py --port 8080 --pid 1234 --count 19000 [--hold 5] [--json out.json]
  bench/idle_rss.py --port 8443 --pid 1234 --count 10000 --tls ca.pem --sni a.test   (wss)

RSS is read from /proc/PID/smaps_rollup (Rss), summed over every --pid given. With --tls
every connection does a TLS handshake (trusting only that CA) before its upgrade.
"""
import argparse
import base64
import json
import os
import selectors
import socket
import ssl
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


class Pending:
    """A connection on its way: TCP connect, [TLS handshake,] request, response head."""

    def __init__(self, sock):
        self.sock = sock
        self.stage = "connect"
        self.buf = bytearray()


def advance(sel, p, request, tls, sni):
    """Moves `p` on after an event. Returns None while it is under way, True once
    the 101 arrived, False when it failed."""
    if p.stage == "connect":
        if tls is None:
            p.stage = "request"
        else:
            sel.unregister(p.sock)
            p.sock = tls.wrap_socket(p.sock, server_hostname=sni, do_handshake_on_connect=False)
            sel.register(p.sock, selectors.EVENT_WRITE, p)
            p.stage = "tls"
    if p.stage == "tls":
        try:
            p.sock.do_handshake()
        except ssl.SSLWantReadError:
            sel.modify(p.sock, selectors.EVENT_READ, p)
            return None
        except ssl.SSLWantWriteError:
            sel.modify(p.sock, selectors.EVENT_WRITE, p)
            return None
        p.stage = "request"
    if p.stage == "request":
        p.sock.send(request)
        sel.modify(p.sock, selectors.EVENT_READ, p)
        p.stage = "response"
        return None
    try:
        chunk = p.sock.recv(4096)
    except ssl.SSLWantReadError:
        return None  # a TLS record without data (a session ticket)
    if not chunk:
        return False
    p.buf += chunk
    if b"\r\n\r\n" not in p.buf:
        return None
    return p.buf.startswith(b"HTTP/1.1 101")


def open_connections(host, port, count, batch, deadline, tls=None, sni=None):
    """Connects `count` sockets, `batch` handshakes in flight at most (over TLS when `tls`,
    a client SSLContext, is given). Returns the list of open sockets and the number of
    failures."""
    sel = selectors.DefaultSelector()
    opened, failed, started, pending = [], 0, 0, 0
    key = base64.b64encode(os.urandom(16)).decode()
    request = HANDSHAKE.format(host=f"{host}:{port}", key=key).encode()
    while (started < count or pending) and time.monotonic() < deadline:
        while started < count and pending < batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            sel.register(s, selectors.EVENT_WRITE, Pending(s))
            started += 1
            pending += 1
        for k, _ in sel.select(timeout=1.0):
            p = k.data
            try:
                done = advance(sel, p, request, tls, sni)
            except OSError:
                done = False
            if done is None:
                continue
            sel.unregister(p.sock)
            pending -= 1
            if done:
                opened.append(p.sock)
            else:
                failed += 1
                p.sock.close()
    for k in list(sel.get_map().values()):
        k.fileobj.close()
        failed += 1
    return opened, failed


def is_alive(s):
    """A closed connection reads EOF (b"") without blocking; an idle open one has nothing
    to read. Over TLS anything pending means the server spoke (a close), so not idle."""
    raw = socket.socket(fileno=os.dup(s.fileno()))
    try:
        data = raw.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK)
        return data != b"" and not isinstance(s, ssl.SSLSocket)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        raw.close()


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
    ap.add_argument("--tls", metavar="CA_PEM", help="connect over TLS (wss), trusting this CA")
    ap.add_argument("--sni", default="localhost", help="server name sent with --tls")
    a = ap.parse_args()
    if not a.host.startswith("127.") and a.host != "::1":
        sys.exit("idle_rss: loopback targets only")
    before = total_rss(a.pid)
    t0 = time.monotonic()
    tls = None
    if a.tls:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.load_verify_locations(a.tls)
    conns, failed = open_connections(a.host, a.port, a.count, a.batch, t0 + a.timeout, tls,
                                     a.sni)
    connect_s = time.monotonic() - t0
    time.sleep(a.hold)
    after = total_rss(a.pid)
    alive = sum(is_alive(s) for s in conns)
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
