"""tidegate behind a real HAProxy (Debian's haproxy package) in TCP mode, as docs/edge.md
configures it: HAProxy relays each client's TCP stream and announces the client with a PROXY
header (send-proxy-v2, or send-proxy for v1), and tidegate must see the real client address.

Each test starts tidegate and its own HAProxy (a generated config in a temp dir, loopback
ports, foreground) and stops both. Clients connect to HAProxy from different loopback source
addresses (127.0.0.2, 127.0.0.3): HAProxy itself always connects from 127.0.0.1, so if
tidegate used the socket's peer instead of the header, every client would share one address.
The per-IP limit makes the difference visible: with max_connections_per_ip = 1 a second
connection from 127.0.0.2 is refused with 429 while 127.0.0.3 is accepted.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (HandshakeRefused, RawClient, Server,  # noqa: E402
                              upgrade_request)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def listening(port):
    """True when a socket listens on 127.0.0.1:port (read from /proc/net/tcp, so that waiting
    for HAProxy opens no connection that it would relay to tidegate as a client)."""
    local = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        return any(fields[1] == local and fields[3] == "0A"
                   for fields in (line.split() for line in f.readlines()[1:]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HAProxy:
    """One haproxy process in the foreground (-db) relaying 127.0.0.1:port to tidegate."""

    def __init__(self, backend_port, server_options):
        self.backend_port = backend_port
        self.server_options = server_options
        self.port = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="tidegate-haproxy-")

    def config(self):
        return f"""global
    maxconn 512

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend clients
    bind 127.0.0.1:{self.port}
    default_backend tidegate

backend tidegate
    server gw 127.0.0.1:{self.backend_port} {self.server_options}
"""

    def start(self):
        if not os.access(HAPROXY, os.X_OK):
            raise AssertionError(f"no haproxy at {HAPROXY}: install the haproxy package "
                                 "(scripts/install-deps.sh does)")
        self.port = free_port()
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.config())
        check = subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True, text=True)
        if check.returncode != 0:
            raise AssertionError(f"haproxy refused the config:\n{check.stdout}{check.stderr}")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", path], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as log:
                    raise AssertionError(f"haproxy exited with {self.proc.returncode}: "
                                         f"{log.read()}")
            if time.monotonic() > deadline:
                raise AssertionError("haproxy did not listen within 10 s")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def closed_without_reply(port, data, source=None, timeout=10.0):
    """Connects to 127.0.0.1:port (from `source`), sends `data` and returns the bytes the
    server sent before closing (b"" when it closed without a reply)."""
    sock = socket.socket()
    if source is not None:
        sock.bind((source, 0))
    sock.settimeout(timeout)
    got = b""
    try:
        sock.connect(("127.0.0.1", port))
        sock.sendall(data)
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.close()
    return got


class TestBehindHAProxy(unittest.TestCase):
    def start(self, send_proxy="send-proxy-v2", mode="required", *args):
        server = Server("--echo", "true", "--ping-interval", "0", "--drain-window", "0",
                        "--proxy-protocol", mode, "--proxy-trusted", "127.0.0.1",
                        "--max-connections-per-ip", "1", *args).start()
        self.addCleanup(server.stop)
        haproxy = HAProxy(server.ws_port, send_proxy).start()
        self.addCleanup(haproxy.stop)
        return server, haproxy

    def client(self, port, source):
        c = RawClient.connect(port, source=source)
        self.addCleanup(c.abort)
        c.echo_roundtrip()
        return c

    def assert_refused_429(self, port, source):
        with self.assertRaises(HandshakeRefused) as refused:
            self.client(port, source)
        self.assertEqual(refused.exception.response.status, 429)
        self.assertIn(b"too many connections from your address", refused.exception.response.body)

    def assert_limit_follows_the_real_address(self, server, haproxy, version):
        first = self.client(haproxy.port, "127.0.0.2")
        self.assert_refused_429(haproxy.port, "127.0.0.2")
        self.client(haproxy.port, "127.0.0.3")  # another client: its own count
        m = server.wait_for_metric(
            lambda m: m.value("tidegate_ip_limit_refusals_total",
                              reason="too_many_connections") == 1,
            "one refusal for too many connections")
        self.assertEqual(m.value("tidegate_ip_limit_tracked_addresses"), 2,
                         "127.0.0.2 and 127.0.0.3 are tracked, HAProxy's 127.0.0.1 is not")
        self.assertGreaterEqual(m.value("tidegate_proxy_headers_total", version=version), 3)
        self.assertEqual(m.value("tidegate_proxy_failures_total"), 0, m.text)
        # the count goes back when the first client leaves: 127.0.0.2 may connect again
        first.close_handshake()
        server.wait_for_metric(
            lambda m: m.value("tidegate_connections_open") == 1, "the first client gone")
        self.client(haproxy.port, "127.0.0.2")

    def test_v2_headers_give_the_real_client_address_to_the_per_ip_limit(self):
        server, haproxy = self.start("send-proxy-v2 proxy-v2-options crc32c")
        self.assert_limit_follows_the_real_address(server, haproxy, version=2)

    def test_v1_headers_work_the_same(self):
        server, haproxy = self.start("send-proxy")
        self.assert_limit_follows_the_real_address(server, haproxy, version=1)

    def test_the_debug_log_names_the_client_and_the_balancer(self):
        server, haproxy = self.start("send-proxy-v2", "required", "--log-level", "debug")
        self.client(haproxy.port, "127.0.0.3")
        _, line = server.wait_for_log(r'msg="PROXY header read"')
        self.assertRegex(line, r"version=2 command=proxy client=127\.0\.0\.3:\d+ "
                               r"peer=127\.0\.0\.1:\d+")

    def test_required_mode_closes_a_trusted_peer_without_a_header_without_a_reply(self):
        server, haproxy = self.start()
        request, _ = upgrade_request()
        self.assertEqual(closed_without_reply(server.ws_port, request), b"")
        server.wait_for_metric(
            lambda m: m.value("tidegate_proxy_failures_total", reason="absent") == 1,
            "one connection refused for a missing header")
        self.client(haproxy.port, "127.0.0.2")  # the balanced path still works

    def test_required_mode_refuses_an_untrusted_peer_at_once(self):
        server, haproxy = self.start()
        request, _ = upgrade_request()
        # a client reaching tidegate directly cannot claim an address by sending a header
        forged = b"PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\n" + request
        self.assertEqual(closed_without_reply(server.ws_port, forged, source="127.0.0.5"), b"")
        m = server.wait_for_metric(
            lambda m: m.value("tidegate_proxy_failures_total", reason="untrusted") == 1,
            "one untrusted peer refused")
        self.assertEqual(m.value("tidegate_proxy_headers_total"), 0)
        self.client(haproxy.port, "127.0.0.5")

    def test_optional_mode_takes_balanced_and_direct_clients(self):
        server, haproxy = self.start("send-proxy-v2", "optional")
        self.client(haproxy.port, "127.0.0.2")
        # a trusted peer without a header is a client itself (127.0.0.1: its own count)
        self.client(server.ws_port, "127.0.0.1")
        # an untrusted peer's PROXY line is not a header: it gets what a bad request gets
        request, _ = upgrade_request()
        forged = b"PROXY TCP4 10.9.9.9 127.0.0.1 1234 80\r\n" + request
        reply = closed_without_reply(server.ws_port, forged, source="127.0.0.6")
        self.assertTrue(reply.startswith(b"HTTP/1.1 400 "), reply)
        m = server.wait_for_metric(
            lambda m: m.value("tidegate_ip_limit_tracked_addresses") == 3,
            "127.0.0.2, 127.0.0.1 and 127.0.0.6 tracked")
        self.assertEqual(m.value("tidegate_proxy_headers_total", version=2), 1)


if __name__ == "__main__":
    unittest.main()
