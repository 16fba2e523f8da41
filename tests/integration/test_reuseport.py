"""Several tidegate processes on one port: every worker socket uses SO_REUSEPORT, so the
kernel spreads connections over all processes (the way past the per-process open-file
limit, and the way to restart one process while another keeps serving)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import RawClient, Server  # noqa: E402

CLIENTS = 200


class TestTwoProcessesOnOnePort(unittest.TestCase):
    def start(self, *args):
        server = Server("--echo", "true", "--ping-interval", "0", *args, workers=1).start()
        self.addCleanup(server.stop)
        return server

    def open_clients(self, port, count):
        clients = []
        for i in range(count):
            c = RawClient.connect(port)
            self.addCleanup(c.abort)
            c.echo_roundtrip(b"client %d" % i)
            clients.append(c)
        return clients

    def test_both_processes_take_connections_and_one_can_stop_while_the_other_serves(self):
        first = self.start()
        port = first.ws_port
        second = self.start("--listen", f"127.0.0.1:{port}")  # a later flag wins
        self.assertEqual(second.ws_port, port)

        clients = self.open_clients(port, CLIENTS)
        accepted = [s.metrics().value("tidegate_connections_accepted_total")
                    for s in (first, second)]
        self.assertEqual(sum(accepted), CLIENTS)
        self.assertGreater(accepted[0], 0, "the kernel gave the first process nothing")
        self.assertGreater(accepted[1], 0, "the kernel gave the second process nothing")

        # Stop the first: its clients are told to go (1001); the port keeps serving.
        first.stop()
        self.assertEqual(first.exit_code, 0)
        survivors = 0
        for c in clients:
            try:
                c.echo_roundtrip(b"still here?", timeout=5.0)
                survivors += 1
            except AssertionError:
                pass  # one of the first process's clients: it was closed with 1001
        self.assertEqual(survivors, accepted[1], "exactly the second process's clients remain")
        newcomers = self.open_clients(port, 50)
        self.assertEqual(len(newcomers), 50)
        self.assertGreaterEqual(second.metrics().value("tidegate_connections_accepted_total"),
                                accepted[1] + 50)


if __name__ == "__main__":
    unittest.main()
