"""Hostile and broken clients: garbage instead of HTTP, slowloris, oversize and unmasked
frames, bad UTF-8, floods from clients that never read, and connections dropped with a TCP
reset at every stage. For each: the server answers as the spec says (an HTTP error, or the
right close code), its memory stays bounded, it keeps running, and afterwards a fresh,
well-behaved client still gets its echo (checked after every test)."""

import os
import select
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT,  # noqa: E402
                              Close, ConnectionClosed, HandshakeRefused, Message, Pong,
                              RawClient,
                              ServerTestCase, build_frame, close_payload, http_exchange,
                              upgrade_request)

MAX_MESSAGE = 64 * 1024
HANDSHAKE_TIMEOUT_S = 1.0
RSS_LIMIT_BYTES = 200 * 1024 * 1024


class HostileTestCase(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0", "--max-message-bytes", "64k",
                   "--handshake-timeout", "1s")

    def tearDown(self):
        super().tearDown()                       # the server is still running
        client = RawClient.connect(self.server.ws_port)
        try:
            client.echo_roundtrip(b"a fresh client after: " + self.id().encode())
            client.close_handshake(1000)
        finally:
            client.abort()

    def assert_rss_bounded(self):
        rss = self.server.rss_bytes()
        self.assertLess(rss, RSS_LIMIT_BYTES, f"server RSS {rss >> 20} MiB")


class TestBadHandshakes(HostileTestCase):
    def assert_http_error(self, request, status=None, timeout=10.0):
        response = http_exchange(self.server.ws_port, request, timeout=timeout)
        self.assertIsNotNone(response, "the server closed without an HTTP answer")
        if status is None:
            self.assertTrue(400 <= response.status < 500, response)
        else:
            self.assertEqual(response.status, status, response)
        self.assertTrue(response.closed, "the connection must be closed after the error")

    def test_tls_client_hello_on_the_plain_port_gets_an_http_error(self):
        hello = bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + b"\x00" * 150
        self.assert_http_error(hello)

    def test_100_kib_without_a_line_break_gets_431(self):
        self.assert_http_error(b"A" * 100 * 1024, 431)

    def test_10_kib_request_target_gets_431(self):
        request, _ = upgrade_request(path="/" + "p" * 10 * 1024)
        self.assert_http_error(request, 431)

    def test_10000_header_lines_get_431(self):
        request, _ = upgrade_request(headers=[("X-%d" % i, "y") for i in range(10000)])
        self.assert_http_error(request, 431)

    def test_nul_byte_in_a_header_value_gets_400(self):
        request, _ = upgrade_request(headers=[("X-Evil", "a\x00b")])
        self.assert_http_error(request, 400)

    def test_a_malformed_request_line_is_refused_before_the_head_is_complete(self):
        """The head never ends (no CRLFCRLF) but its first line can never be valid: the
        answer is 400 at once, not 408 when handshake_timeout runs out."""
        self.assert_http_error(b"GET\x00 / HTTP/1.1\r\nHost: a\r\n", 400)

    def test_binary_garbage_gets_an_http_error(self):
        garbage = bytes((i * 151 + 7) % 256 for i in range(4096)) + b"\r\n\r\n"
        self.assert_http_error(garbage)


class TestHalfClose(HostileTestCase):
    """A client that sends its last bytes and half-closes (SHUT_WR) in one go must still
    get everything the server owes it: the error reply, or the 101 and the close echo.
    Each case runs 20 times: the loss depended on the FIN and the bytes arriving together."""

    def exchange_then_half_close(self, data):
        with socket.create_connection(("127.0.0.1", self.server.ws_port), timeout=10) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            received = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return received
                received += chunk

    def test_a_refused_request_followed_by_fin_still_gets_its_reply(self):
        request, _ = upgrade_request(version="8")
        for _ in range(20):
            reply = self.exchange_then_half_close(request)
            self.assertTrue(reply.startswith(b"HTTP/1.1 426 "), reply[:80])

    def test_a_close_frame_followed_by_fin_still_gets_the_101_and_the_close_echo(self):
        request, _ = upgrade_request()
        close = build_frame(OP_CLOSE, close_payload(1000, b"bye"))
        for _ in range(20):
            reply = self.exchange_then_half_close(request + close)
            self.assertTrue(reply.startswith(b"HTTP/1.1 101 "), reply[:80])
            self.assertTrue(reply.endswith(bytes([0x88, 5]) + close_payload(1000, b"bye")),
                            reply[-16:])


class TestSlowloris(HostileTestCase):
    def test_a_request_trickled_byte_by_byte_is_cut_at_handshake_timeout(self):
        """One byte every 0.3 s would take ~40 s for the whole request; with
        handshake_timeout = 1s the server answers 408 and closes long before (we allow 6 s:
        the deadline is for the whole request, not reset by each byte)."""
        request, _ = upgrade_request()
        sock = socket.create_connection(("127.0.0.1", self.server.ws_port), timeout=10)
        self.addCleanup(sock.close)
        started = time.monotonic()
        received = b""
        closed = False
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                pass
            readable, _, _ = select.select([sock], [], [], 0.3)
            if readable:
                try:
                    chunk = sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                received += chunk
                if not chunk:
                    closed = True
                    break
            if time.monotonic() - started > 6 + HANDSHAKE_TIMEOUT_S:
                break
        elapsed = time.monotonic() - started
        self.assertTrue(received.startswith(b"HTTP/1.1 408"), received[:200])
        self.assertTrue(closed, f"still open after {elapsed:.1f} s")
        self.assertLess(elapsed, 6 + HANDSHAKE_TIMEOUT_S)

    def test_fifty_silent_connections_are_all_closed_with_408(self):
        socks = [socket.create_connection(("127.0.0.1", self.server.ws_port), timeout=15)
                 for _ in range(50)]
        for s in socks:
            self.addCleanup(s.close)
        for s in socks:
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])

    def test_a_client_that_completes_in_time_is_not_affected(self):
        """The deadline is per connection: a slow but finishing handshake (0.6 s) works."""
        request, key = upgrade_request()
        sock = socket.create_connection(("127.0.0.1", self.server.ws_port), timeout=10)
        half = len(request) // 2
        sock.sendall(request[:half])
        time.sleep(0.6 * HANDSHAKE_TIMEOUT_S)
        sock.sendall(request[half:])
        client = RawClient(sock)
        self.addCleanup(client.abort)
        head = client._read_until(b"\r\n\r\n", time.monotonic() + 10)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        client.echo_roundtrip()
        client.close_handshake(1000)


class TestBadFrames(HostileTestCase):
    def test_message_of_exactly_max_message_bytes_is_echoed(self):
        client = self.connect()
        client.echo_roundtrip(b"m" * MAX_MESSAGE)
        client.close_handshake(1000)

    def test_frame_one_byte_over_the_limit_is_refused_before_its_payload(self):
        """1009 as soon as the header announces MAX_MESSAGE + 1; no payload is ever sent."""
        client = self.connect()
        client.send_raw(build_frame(OP_BINARY, b"", length=MAX_MESSAGE + 1))
        client.expect_close(1009)

    def test_frame_announcing_4_exbibytes_is_refused(self):
        client = self.connect()
        client.send_raw(build_frame(OP_BINARY, b"", length=1 << 62))
        client.expect_close(1009)

    def test_64_bit_length_with_the_high_bit_set_is_a_protocol_error(self):
        """RFC 6455 5.2: the most significant bit of a 64-bit length must be 0."""
        client = self.connect()
        client.send_raw(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0")
        client.expect_close(1002)

    def test_fragments_adding_up_over_the_limit_are_refused(self):
        client = self.connect()
        part = b"f" * 30000
        client.send_raw(build_frame(OP_BINARY, part, fin=False) +
                        build_frame(OP_CONT, part, fin=False))
        client.send_raw(build_frame(OP_CONT, b"", fin=True, length=30000))
        client.expect_close(1009)

    def test_unmasked_text_is_a_protocol_error(self):
        client = self.connect()
        client.send_frame(OP_TEXT, b"look, no mask", mask=False)
        client.expect_close(1002)

    def test_unmasked_ping_is_a_protocol_error(self):
        client = self.connect()
        client.send_frame(OP_PING, b"ping", mask=False)
        client.expect_close(1002)

    def test_unmasked_close_is_a_protocol_error(self):
        client = self.connect()
        client.send_frame(OP_CLOSE, close_payload(1000), mask=False)
        client.expect_close(1002)

    def test_unmasked_continuation_inside_a_message_is_a_protocol_error(self):
        client = self.connect()
        client.send_frame(OP_TEXT, b"masked start ", fin=False)
        client.send_frame(OP_CONT, b"unmasked end", mask=False)
        client.expect_close(1002)

    def test_invalid_utf8_deep_inside_a_large_text_message_fails_fast(self):
        client = self.connect()
        payload = b"a" * 30000 + b"\xc0\xaf" + b"a" * 30000
        whole = build_frame(OP_TEXT, payload)
        client.send_raw(whole[:len(whole) - 25000])        # the rest never comes
        client.expect_close(1007)

    def test_bytes_ff_after_the_handshake(self):
        client = self.connect()
        client.send_raw(b"\xff" * 1000)
        client.expect_close(1002)

    def test_nul_bytes_after_the_handshake(self):
        """0x00 0x00 is an unmasked continuation with nothing to continue: 1002."""
        client = self.connect()
        client.send_raw(b"\x00" * 1000)
        client.expect_close(1002)

    def test_http_request_sent_again_after_the_handshake(self):
        client = self.connect()
        request, _ = upgrade_request()
        client.send_raw(request)
        client.expect_close(1002)


class TestFloods(HostileTestCase):
    """A client that writes and never reads. The server either keeps up (everything is
    answered, in order, once the client reads) or cuts that client off with 1008. Either
    way its memory stays bounded and other clients are served meanwhile."""

    def flood(self, frames, expected, is_answer):
        flooder = self.connect(rcvbuf=4096)
        stop = threading.Event()
        errors = []

        # the sender writes through its own socket object so the reader's timeouts do not
        # change its own (both share the same connection)
        sender_sock = flooder.sock.dup()
        sender_sock.settimeout(120)
        self.addCleanup(sender_sock.close)

        def sender():
            data = b"".join(frames)
            try:
                for i in range(0, len(data), 65536):
                    if stop.is_set():
                        return
                    sender_sock.sendall(data[i:i + 65536])
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                pass
            except OSError as e:
                errors.append(e)

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        time.sleep(3)   # let the flood pile up on the server side
        self.assert_rss_bounded()
        bystander = self.connect()
        bystander.echo_roundtrip(b"still served during the flood")
        self.assert_rss_bounded()

        received = 0
        deadline = time.monotonic() + 120
        while received < len(expected):
            try:
                event = flooder.next_event(max(1.0, deadline - time.monotonic()))
            except ConnectionClosed as e:
                self.fail(f"dropped without a close frame after {received} answers ({e})")
            if isinstance(event, Close):
                self.assertEqual(event.code, 1008, f"after {received} answers")
                stop.set()
                try:
                    flooder.send_close(1008)
                except OSError:
                    pass
                break
            self.assertTrue(is_answer(event, expected[received]),
                            f"answer {received} is {event!r}")
            received += 1
        stop.set()
        thread.join(30)
        self.assertEqual(errors, [])
        self.assert_rss_bounded()
        bystander.echo_roundtrip(b"still served after the flood")
        bystander.close_handshake(1000)

    def test_20000_pings_from_a_client_that_never_reads(self):
        payloads = [(b"%08d" % i) * 15 + b"12345" for i in range(20000)]   # 125 bytes each
        self.flood([build_frame(OP_PING, p) for p in payloads], payloads,
                   lambda event, p: event == Pong(p))

    def test_echo_of_20_mib_to_a_client_that_never_reads(self):
        payloads = [bytes([i % 256]) * 60000 for i in range(350)]
        self.flood([build_frame(OP_BINARY, p) for p in payloads], payloads,
                   lambda event, p: event == Message(OP_BINARY, p))


class TestAbruptResets(HostileTestCase):
    def reset(self, sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    def test_resets_at_every_stage_leave_no_connection_behind(self):
        before = self.server.metrics().value("tidegate_connections_open")
        port = self.server.ws_port
        request, _ = upgrade_request()
        for i in range(20):
            # right after connect
            self.reset(socket.create_connection(("127.0.0.1", port), timeout=10))
            # in the middle of the request
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(request[:len(request) // 2])
            self.reset(s)
            # in the middle of a frame
            c = RawClient.connect(port)
            c.send_raw(build_frame(OP_BINARY, b"x" * 5000)[:2000])
            c.abort()
            # while the server is writing a large echo
            c = RawClient.connect(port, rcvbuf=4096)
            c.send_binary(b"y" * MAX_MESSAGE)
            c.abort()
            # after a fragment, with a message half assembled
            c = RawClient.connect(port)
            c.send_frame(OP_TEXT, b"half a message", fin=False)
            c.abort()
            # after sending close, before the answer
            c = RawClient.connect(port)
            c.send_raw(build_frame(OP_CLOSE, close_payload(1000)))
            c.abort()
            # EOF without close handshake (a clean FIN, not a reset)
            c = RawClient.connect(port)
            c.sock.shutdown(socket.SHUT_WR)
            c.sock.close()
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_connections_open") <= before,
            f"tidegate_connections_open back to {before} after 140 abrupt clients",
            timeout=30)


class TestConnectionLimit(HostileTestCase):
    server_args = HostileTestCase.server_args + ("--max-connections", "4")

    def test_connections_over_max_connections_get_503_until_one_leaves(self):
        clients = [self.connect() for _ in range(4)]
        with self.assertRaises(HandshakeRefused) as refused:
            RawClient.connect(self.server.ws_port)
        self.assertEqual(refused.exception.response.status, 503)
        for c in clients:
            c.echo_roundtrip()            # the ones inside are unaffected
        clients.pop().close_handshake(1000)
        self.server.wait_for_metric(lambda m: m.value("tidegate_connections_open") <= 3,
                                    "3 open connections after one left")
        newcomer = self.connect()
        newcomer.echo_roundtrip()
        for c in clients + [newcomer]:
            c.close_handshake(1000)
        self.server.wait_for_metric(lambda m: m.value("tidegate_connections_open") == 0,
                                    "no open connections")


if __name__ == "__main__":
    unittest.main()
