"""The edge without a balancer: PROXY headers written by hand on a raw socket (the parser's
own cases are in tests/unit/test_proxy_*.c; here it is the connection flow around it), the
per-IP limits on direct clients, the options' errors, and SIGHUP. HAProxy in front of
tidegate is tests/integration/test_edge_haproxy.py.

Every server here trusts 127.0.0.1 as its balancer, so a raw socket from 127.0.0.1 plays
the balancer and can announce any client it likes."""

import ipaddress
import os
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (HandshakeRefused, HttpResponse, RawClient, Server,  # noqa: E402
                              ServerTestCase, parse_http_response_head, run_binary,
                              upgrade_request)

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_ARGS = ("--echo", "true", "--ping-interval", "0", "--drain-window", "0",
              "--proxy-protocol", "required", "--proxy-trusted", "127.0.0.1")


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def v2_header(src, dst=("10.0.0.1", 443), command=1, tlvs=b"", crc=False):
    """A PROXY v2 header announcing a TCP client at `src` (ip, port); LOCAL when command 0."""
    ip = ipaddress.ip_address(src[0])
    family = 0x11 if ip.version == 4 else 0x21
    body = (ip.packed + ipaddress.ip_address(dst[0]).packed
            + struct.pack("!HH", src[1], dst[1]) + tlvs)
    if crc:
        body += b"\x03\x00\x04" + b"\x00" * 4
    header = bytearray(V2_SIGNATURE + bytes([0x20 | command, family])
                       + struct.pack("!H", len(body)) + body)
    if crc:
        header[-4:] = struct.pack("!I", crc32c(bytes(header)))
    return bytes(header)


def balancer_connect(port, header, chop=None, timeout=10.0):
    """Plays the balancer: connects from 127.0.0.1, sends `header` (in pieces of `chop`
    bytes, 10 ms apart) and then a client's upgrade. Returns the RawClient once the server
    answered 101; raises HandshakeRefused with the response otherwise."""
    request, _ = upgrade_request()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    pieces = [header] if not chop else [header[i:i + chop] for i in range(0, len(header), chop)]
    try:
        for piece in pieces:
            sock.sendall(piece)
            if chop:
                time.sleep(0.01)
        client = RawClient(sock)
        sock.sendall(request)
        head = client._read_until(b"\r\n\r\n", time.monotonic() + timeout)
    except BaseException:
        sock.close()
        raise
    status, reason, headers = parse_http_response_head(head)
    response = HttpResponse(status, reason, headers, bytes(client.buf), False)
    if status != 101:
        sock.close()
        raise HandshakeRefused(response)
    client.response = response
    return client


def closed_without_reply(port, data, timeout=10.0):
    """Sends `data` from 127.0.0.1; returns what came back before the close."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
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


class TestProxyHeaders(ServerTestCase):
    server_args = PROXY_ARGS + ("--max-connections-per-ip", "1", "--handshake-timeout", "3s",
                                "--log-level", "debug")

    def client(self, header, chop=None):
        c = balancer_connect(self.server.ws_port, header, chop)
        self.addCleanup(c.abort)
        c.echo_roundtrip()
        return c

    def failures(self, reason):
        return self.server.metrics().value("tidegate_proxy_failures_total", reason=reason)

    def test_a_header_split_at_every_byte_is_read(self):
        header = v2_header(("10.20.0.1", 40000), tlvs=b"\x01\x00\x08http/1.1", crc=True)
        self.client(header, chop=1)
        self.server.wait_for_log(r'msg="PROXY header read" version=2 command=proxy '
                                 r'client=10\.20\.0\.1:40000 peer=127\.0\.0\.1:\d+')

    def test_header_request_and_first_frame_in_one_segment(self):
        request, key = upgrade_request()
        frame = bytes([0x82, 0x83, 1, 2, 3, 4]) + bytes(b ^ k for b, k in zip(b"abc", b"\1\2\3"))
        sock = socket.create_connection(("127.0.0.1", self.server.ws_port), timeout=10)
        sock.sendall(b"PROXY TCP4 10.20.0.2 10.0.0.1 40001 443\r\n" + request + frame)
        c = RawClient(sock)
        self.addCleanup(c.abort)
        head = c._read_until(b"\r\n\r\n", time.monotonic() + 10)
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "), head)
        self.assertEqual(c.recv_message().data, b"abc")

    def test_the_limit_counts_the_announced_client_not_the_balancer(self):
        self.client(v2_header(("10.30.0.1", 1)))
        with self.assertRaises(HandshakeRefused) as refused:
            self.client(v2_header(("10.30.0.1", 2)))
        self.assertEqual(refused.exception.response.status, 429)
        self.client(v2_header(("10.30.0.2", 3)))

    def test_ipv6_clients_count_per_64_prefix(self):
        self.client(v2_header(("2001:db8:aa::1", 1), dst=("2001:db8::443", 443)))
        with self.assertRaises(HandshakeRefused):
            self.client(v2_header(("2001:db8:aa::2", 2), dst=("2001:db8::443", 443)))
        self.client(v2_header(("2001:db8:aa:1::1", 3), dst=("2001:db8::443", 443)))

    def test_a_local_header_uses_the_balancer_address(self):
        # LOCAL is the balancer's own connection (a health check): 127.0.0.1 is the client
        self.client(v2_header(("10.40.0.1", 1), command=0))
        self.server.wait_for_log(r'msg="PROXY header read" version=2 command=local '
                                 r'client=127\.0\.0\.1:\d+')

    def test_bad_headers_are_closed_without_a_reply_and_counted(self):
        request, _ = upgrade_request()
        bad_crc = bytearray(v2_header(("10.50.0.1", 1), crc=True))
        bad_crc[-1] ^= 0xFF
        cases = [
            ("v2_bad_crc32c", bytes(bad_crc)),
            ("v1_bad_syntax", b"PROXY TCP4  10.50.0.1 10.0.0.1 1 2\r\n"),
            ("v1_bad_address", b"PROXY TCP4 10.50.0.256 10.0.0.1 1 2\r\n"),
            ("v2_too_long", V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", 2000)),
            ("absent", b""),
        ]
        for reason, header in cases:
            with self.subTest(reason=reason):
                before = self.failures(reason)
                self.assertEqual(closed_without_reply(self.server.ws_port, header + request), b"")
                self.server.wait_for_metric(
                    lambda m, r=reason, b=before: m.value("tidegate_proxy_failures_total",
                                                          reason=r) == b + 1,
                    f"one more {reason}")

    def test_half_a_header_is_cut_at_the_handshake_timeout(self):
        before = self.failures("timeout")
        started = time.monotonic()
        self.assertEqual(closed_without_reply(self.server.ws_port, b"PROXY TCP4 10.60"), b"")
        self.assertLess(time.monotonic() - started, 8.0)
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_proxy_failures_total", reason="timeout") == before + 1,
            "one header timed out")


class TestOptionalMode(unittest.TestCase):
    def test_a_silent_trusted_client_gets_the_upgrade_timeout_not_a_proxy_failure(self):
        server = Server("--echo", "true", "--drain-window", "0", "--proxy-protocol", "optional",
                        "--proxy-trusted", "127.0.0.1", "--handshake-timeout", "500ms").start()
        self.addCleanup(server.stop)
        reply = closed_without_reply(server.ws_port, b"")
        self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply)
        # half a header from the same peer is a broken header: cut without a reply
        self.assertEqual(closed_without_reply(server.ws_port, b"PROXY TCP4 1"), b"")
        m = server.wait_for_metric(
            lambda m: m.value("tidegate_proxy_failures_total", reason="timeout") == 1,
            "one header timed out")
        self.assertEqual(m.value("tidegate_handshake_failures_total", reason="timeout"), 1)


class TestPerIpLimitsOnDirectClients(unittest.TestCase):
    def start(self, *args):
        server = Server("--echo", "true", "--ping-interval", "0", "--drain-window", "0",
                        *args).start()
        self.addCleanup(server.stop)
        return server

    def test_new_connections_past_the_burst_get_429_with_retry_after(self):
        server = self.start("--new-connections-per-ip-per-s", "1",
                            "--new-connections-per-ip-burst", "2")
        for _ in range(2):
            RawClient.connect(server.ws_port, source="127.0.0.7").abort()
        with self.assertRaises(HandshakeRefused) as refused:
            RawClient.connect(server.ws_port, source="127.0.0.7")
        response = refused.exception.response
        self.assertEqual(response.status, 429)
        self.assertEqual(response.header("retry-after"), "1")
        self.assertEqual(response.header("connection"), "close")
        RawClient.connect(server.ws_port, source="127.0.0.8").abort()  # another address
        time.sleep(1.1)  # one token back
        RawClient.connect(server.ws_port, source="127.0.0.7").abort()
        m = server.wait_for_metric(
            lambda m: m.value("tidegate_ip_limit_refusals_total", reason="too_fast") == 1,
            "one refusal for the rate")
        self.assertEqual(m.value("tidegate_connections_closed_total", reason="ip_limit"), 1)

    def test_zero_turns_the_limits_off(self):
        server = self.start("--max-connections-per-ip", "0", "--new-connections-per-ip-per-s",
                            "0", "--new-connections-per-ip-burst", "1")
        clients = [RawClient.connect(server.ws_port) for _ in range(20)]
        for c in clients:
            c.echo_roundtrip()
            c.abort()
        m = server.metrics()
        self.assertEqual(m.value("tidegate_ip_limit_tracked_addresses"), 0)
        self.assertEqual(m.value("tidegate_ip_limit_refusals_total"), 0)


class TestEdgeOptions(unittest.TestCase):
    def assert_usage_error(self, result, *mentions):
        self.assertEqual(result.returncode, 2, result.stderr)
        for text in mentions:
            self.assertIn(text, result.stderr)

    def test_proxy_headers_need_trusted_sources(self):
        self.assert_usage_error(run_binary("--proxy-protocol", "required"),
                                "proxy_protocol = required needs proxy_trusted")
        self.assert_usage_error(run_binary("--proxy-protocol", "optional"),
                                "proxy_protocol = optional needs proxy_trusted")

    def test_a_bad_range_is_named(self):
        self.assert_usage_error(run_binary("--proxy-trusted", "10.0.0.0/8, 10.0.0.1/8"),
                                "proxy_trusted", "10.0.0.1/8", "host bits", "10.0.0.0/8")
        self.assert_usage_error(run_binary("--proxy-trusted", "lb.example.com"),
                                "proxy_trusted", "lb.example.com")

    def test_a_bad_mode_lists_the_good_ones(self):
        self.assert_usage_error(run_binary("--proxy-protocol", "maybe"), "proxy_protocol",
                                "maybe", "optional")


class TestSighup(unittest.TestCase):
    def test_sighup_applies_the_log_level_and_names_what_needs_a_restart(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("echo = true\nlog_level = info\n")
        self.addCleanup(os.unlink, f.name)
        server = Server("--config", f.name, "--ping-interval", "0", "--drain-window", "0").start()
        self.addCleanup(server.stop)
        with open(f.name, "w") as f2:
            f2.write("echo = true\nlog_level = debug\nmax_connections = 5\n")
        server.proc.send_signal(signal.SIGHUP)
        _, line = server.wait_for_log(r'msg="options reloaded"')
        self.assertIn("log_level=debug", line)
        self.assertIn('restart_needed_for="max_connections"', line)
        # debug lines flow now: a refused upgrade logs one
        sock = socket.create_connection(("127.0.0.1", server.ws_port), timeout=10)
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.recv(4096)
        sock.close()
        server.wait_for_log(r'level=debug .*msg="upgrade refused"')
        # a file that no longer parses changes nothing and keeps the server running
        with open(f.name, "w") as f3:
            f3.write("log_level = loud\n")
        server.proc.send_signal(signal.SIGHUP)
        _, line = server.wait_for_log(r'msg="reload failed; the running options stay"')
        self.assertIn("loud", line)
        client = RawClient.connect(server.ws_port)
        self.addCleanup(client.abort)
        client.echo_roundtrip()
        server.assert_running()


if __name__ == "__main__":
    unittest.main()
