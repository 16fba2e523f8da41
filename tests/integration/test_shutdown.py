"""Stopping the server: on SIGTERM or SIGINT every open client gets close 1001, and the
process exits with 0, also when some client never answers its close or is still in the
middle of its handshake. These run with drain_window = 0 (every close at once); the drain
that spreads the closes over a window is tests/integration/test_drain.py."""

import os
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import Close, RawClient, Server, upgrade_request  # noqa: E402


class TestShutdown(unittest.TestCase):
    def start(self, *args):
        server = Server("--echo", "true", "--ping-interval", "0", "--drain-window", "0",
                        *args).start()
        self.addCleanup(server.stop)
        return server

    def open_clients(self, server, count):
        clients = []
        for _ in range(count):
            c = RawClient.connect(server.ws_port)
            self.addCleanup(c.abort)
            c.echo_roundtrip()
            clients.append(c)
        return clients

    def assert_every_client_gets_1001(self, sig):
        server = self.start()
        clients = self.open_clients(server, 10)
        server.proc.send_signal(sig)
        for c in clients:
            c.expect_close(1001, half_close=False)
        self.assertEqual(server.wait_exit(20), 0)

    def test_sigterm_closes_every_client_with_1001_and_exits_0(self):
        self.assert_every_client_gets_1001(signal.SIGTERM)

    def test_sigint_closes_every_client_with_1001_and_exits_0(self):
        self.assert_every_client_gets_1001(signal.SIGINT)

    def test_exit_does_not_wait_forever_for_a_silent_client(self):
        server = self.start("--close-timeout", "1s")
        silent, answering = self.open_clients(server, 2)
        server.proc.send_signal(signal.SIGTERM)
        answering.expect_close(1001, half_close=False)
        self.assertEqual(server.wait_exit(20), 0)
        # the silent client did get its close before the process went away
        event = silent.next_event()
        self.assertIsInstance(event, Close)
        self.assertEqual(event.code, 1001)

    def test_exit_with_a_client_in_the_middle_of_its_handshake(self):
        server = self.start()
        request, _ = upgrade_request()
        half = socket.create_connection(("127.0.0.1", server.ws_port), timeout=10)
        self.addCleanup(half.close)
        half.sendall(request[:20])
        self.open_clients(server, 1)[0].abort()
        server.proc.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(20), 0)

    def test_exit_with_no_clients(self):
        server = self.start()
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
