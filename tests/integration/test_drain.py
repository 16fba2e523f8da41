"""The graceful drain (docs/operations.md): on SIGTERM /readyz answers 503 at once, the
listeners close (new connections are refused), and every connected client gets a
`disconnect` notice (1001, server_shutdown, reconnect true) and close 1001, spread evenly over
drain_window rather than all at once, so that clients do not all reconnect in the same
instant; then the process exits 0.

50 clients are held by one thread each, which notes when its notice arrived. The checks are
on the spread (the first and the last notice at least a second apart with a 2 s window, and
notices in both halves of the window), never on how fast the server is.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import Close, Message, OP_TEXT, RawClient, Server  # noqa: E402

CLIENTS = 50
WINDOW_S = 2.0


class Watcher(threading.Thread):
    """Waits on one client for its notice and close; records what came and when."""

    def __init__(self, client, expect_notice):
        super().__init__(daemon=True)
        self.client = client
        self.expect_notice = expect_notice
        self.notice = None
        self.close = None
        self.at = None  # time.monotonic() of the first frame of the end
        self.error = None

    def run(self):
        try:
            event = self.client.next_event(timeout=30)
            self.at = time.monotonic()
            if self.expect_notice:
                if not isinstance(event, Message) or event.opcode != OP_TEXT:
                    raise AssertionError(f"expected the disconnect notice, got {event!r}")
                self.notice = json.loads(event.data)
                event = self.client.next_event(timeout=10)
            self.close = event
            if isinstance(event, Close):
                self.client.send_close(event.code)
                self.client.expect_tcp_closed(10)
        except BaseException as e:  # reported by the test thread
            self.error = e


class TestDrain(unittest.TestCase):
    def start(self, *args):
        server = Server("--ping-interval", "0", "--drain-window", f"{int(WINDOW_S * 1000)}ms",
                        *args).start()
        self.addCleanup(server.stop)
        return server

    def connected_clients(self, server, count, protocol):
        clients = []
        for i in range(count):
            c = RawClient.connect(server.ws_port)
            self.addCleanup(c.abort)
            if protocol:
                c.send_text(json.dumps({"type": "connect", "id": i}))
                reply = json.loads(c.recv_message().data)
                self.assertEqual(reply["type"], "connected", reply)
            else:
                c.echo_roundtrip()
            clients.append(c)
        return clients

    def drain(self, server, clients, protocol):
        """SIGTERM, then the checks made while the drain runs; returns (watchers, t0)."""
        watchers = [Watcher(c, protocol) for c in clients]
        for w in watchers:
            w.start()
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        deadline = t0 + 1.0
        status = None
        while time.monotonic() < deadline:  # the signal is handled within a loop turn
            status, _, _ = server.admin_get("/readyz")
            if status == 503:
                break
            time.sleep(0.02)
        self.assertEqual(status, 503, "/readyz must answer 503 as soon as the drain starts")
        # the workers close their listeners within a loop turn of the server thread's wake-up
        refused = False
        while not refused and time.monotonic() < t0 + 1.0:
            try:
                socket.create_connection(("127.0.0.1", server.ws_port), timeout=5).close()
                time.sleep(0.02)
            except ConnectionRefusedError:
                refused = True
        self.assertTrue(refused, "new connections are refused during the drain")
        still_open = sum(1 for w in watchers if w.at is None)
        self.assertGreater(still_open, 0, "the checks above ran while the drain went on: "
                                          "not every client was closed at once")
        for w in watchers:
            w.join(40)
            self.assertFalse(w.is_alive(), "a client got no close within 40 s")
            if w.error is not None:
                raise w.error
        return watchers, t0

    def assert_spread(self, watchers, t0):
        times = sorted(w.at - t0 for w in watchers)
        self.assertGreaterEqual(times[-1] - times[0], WINDOW_S / 2,
                                f"notices were not spread over the window: {times}")
        first_half = sum(1 for t in times if t < WINDOW_S / 2)
        self.assertGreaterEqual(first_half, CLIENTS // 5, times)
        self.assertGreaterEqual(len(times) - first_half, CLIENTS // 5, times)
        self.assertLess(times[-1], WINDOW_S + 5.0, "every notice came within the window")

    def test_sigterm_spreads_disconnect_notices_and_1001_over_the_window(self):
        server = self.start("--allow-anonymous")
        clients = self.connected_clients(server, CLIENTS, protocol=True)
        watchers, t0 = self.drain(server, clients, protocol=True)
        for w in watchers:
            self.assertEqual(w.notice, {"type": "disconnect", "code": 1001,
                                        "reason": "server_shutdown",
                                        "message": "the server is shutting down; reconnect",
                                        "reconnect": True})
            self.assertIsInstance(w.close, Close)
            self.assertEqual(w.close.code, 1001)
            self.assertEqual(w.close.reason, b"server_shutdown")
        self.assert_spread(watchers, t0)
        self.assertEqual(server.wait_exit(20), 0)
        closed = [line for line in server.log_lines() if 'msg="stopping' in line]
        self.assertTrue(closed and "drain_window_ms=2000" in closed[0], closed)

    def test_echo_mode_clients_get_the_close_alone(self):
        server = self.start("--echo", "true")
        clients = self.connected_clients(server, CLIENTS, protocol=False)
        watchers, t0 = self.drain(server, clients, protocol=False)
        for w in watchers:
            self.assertIsInstance(w.close, Close, "no notice in echo mode: the close first")
            self.assertEqual(w.close.code, 1001)
        self.assert_spread(watchers, t0)
        self.assertEqual(server.wait_exit(20), 0)

    def test_what_was_queued_before_the_notice_is_delivered_before_the_close(self):
        server = self.start("--echo", "true", "--drain-window", "1s")
        clients = [RawClient.connect(server.ws_port, rcvbuf=4096) for _ in range(3)]
        for c in clients:
            self.addCleanup(c.abort)
            for i in range(8):
                c.send_binary(bytes([i]) * 65536)  # echoes wait in the server's send queue
        server.wait_for_metric(lambda m: m.value("tidegate_messages_received_total") == 24,
                               "every message received (so its echo is queued)")
        server.proc.send_signal(signal.SIGTERM)
        for c in clients:
            for i in range(8):
                self.assertEqual(c.recv_message(timeout=10).data, bytes([i]) * 65536)
            c.expect_close(1001, half_close=False)
        self.assertEqual(server.wait_exit(20), 0)

    def test_a_stop_without_clients_does_not_wait_for_the_window(self):
        server = self.start("--drain-window", "30s")
        t0 = time.monotonic()
        self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10.0)


if __name__ == "__main__":
    unittest.main()
