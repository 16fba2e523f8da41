"""Keepalive and timeouts on open connections: the server pings quiet connections every
ping_interval; a connection from which nothing at all arrives for idle_timeout is closed
with 1001; anything received (a pong, data) counts as life; after the server sends a close
it cuts TCP when close_timeout passes without the client's answer."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_PONG, Close, Message, Ping,  # noqa: E402
                              ServerTestCase)

PING_INTERVAL_S = 1.0
IDLE_TIMEOUT_S = 3.0
CLOSE_TIMEOUT_S = 1.0


class TestKeepalive(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "1s", "--idle-timeout", "3s",
                   "--close-timeout", "1s")

    def test_server_pings_a_quiet_connection(self):
        client = self.connect()
        event = client.next_event(timeout=PING_INTERVAL_S + 5)
        self.assertIsInstance(event, Ping)
        client.send_frame(OP_PONG, event.data)
        client.close_handshake(1000)

    def test_client_answering_pings_stays_connected_beyond_idle_timeout(self):
        client = self.connect()
        pings = 0
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * IDLE_TIMEOUT_S:
            event = client.next_event(timeout=PING_INTERVAL_S + 5)
            self.assertIsInstance(event, Ping, "only pings may arrive while we are quiet")
            client.send_frame(OP_PONG, event.data)
            pings += 1
        self.assertGreaterEqual(pings, 3)
        client.echo_roundtrip()
        client.close_handshake(1000)

    def test_client_that_answers_nothing_is_closed_with_1001(self):
        client = self.connect()
        started = time.monotonic()
        while True:
            event = client.next_event(timeout=IDLE_TIMEOUT_S + 10)
            if not isinstance(event, Ping):
                break
        elapsed = time.monotonic() - started
        self.assertIsInstance(event, Close)
        self.assertEqual(event.code, 1001)
        self.assertGreaterEqual(elapsed, IDLE_TIMEOUT_S - 1.0,
                                "closed before idle_timeout had passed")
        client.send_close(1001)
        client.expect_tcp_closed()

    def test_data_counts_as_activity(self):
        client = self.connect()
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < 2.5 * IDLE_TIMEOUT_S:
            client.send_binary(b"tick %d" % sent)
            while True:   # pings are not answered: only our data keeps the connection
                event = client.next_event(timeout=10)
                if not isinstance(event, Ping):
                    break
            self.assertEqual(event, Message(OP_BINARY, b"tick %d" % sent))
            sent += 1
            time.sleep(0.5)
        client.close_handshake(1000)

    def test_server_cuts_tcp_when_its_close_is_not_answered(self):
        client = self.connect()
        client.send_frame(OP_BINARY, b"unmasked", mask=False)
        started = time.monotonic()
        client.expect_close(1002, reply=False, half_close=False, timeout=CLOSE_TIMEOUT_S + 10)
        self.assertLess(time.monotonic() - started, CLOSE_TIMEOUT_S + 5)


class TestKeepaliveDisabled(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0", "--idle-timeout", "0")

    def test_no_pings_and_no_idle_close_when_both_are_0(self):
        client = self.connect()
        client.expect_silence(4.0)
        client.echo_roundtrip()
        client.close_handshake(1000)


if __name__ == "__main__":
    unittest.main()
