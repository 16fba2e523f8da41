"""Conformance, category 2 (Autobahn 2.x): every ping is answered by a pong with the same
payload, in order; pongs nobody asked for are ignored; a ping longer than 125 bytes is a
protocol error (1002).

"Ignored" is checked without waiting: the test sends something that does get an answer
right after, and asserts that answer is the very next frame."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_PING, OP_PONG, Pong, ServerTestCase,  # noqa: E402
                              build_frame)


class TestPingPong(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def assert_pong(self, payload, chop=None):
        client = self.connect()
        client.send_ping(payload, chop=chop, delay_s=0.002 if chop else 0.0)
        self.assertEqual(client.next_event(), Pong(payload))
        client.close_handshake(1000)

    def test_ping_without_payload(self):
        """2.1: a ping with no payload gets a pong with no payload."""
        self.assert_pong(b"")

    def test_ping_with_text_payload(self):
        """2.2: the pong carries the ping's payload."""
        self.assert_pong(b"Hello, world!")

    def test_ping_with_binary_payload(self):
        """2.3: payload bytes are returned as they are, including 0x00 and 0xff."""
        self.assert_pong(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")

    def test_ping_with_125_byte_payload(self):
        """2.4: 125 bytes, the largest control payload."""
        self.assert_pong(b"\xfe" * 125)

    def test_ping_with_126_byte_payload_is_a_protocol_error(self):
        """2.5: a control frame longer than 125 bytes fails the connection with 1002,
        and no pong is sent."""
        client = self.connect()
        client.send_ping(b"\xfe" * 126)
        client.expect_close(1002)

    def test_ping_with_125_byte_payload_written_one_byte_at_a_time(self):
        """2.6: the ping frame arrives one byte per write."""
        self.assert_pong(b"\xfe" * 125, chop=1)

    def test_unsolicited_pong_without_payload_is_ignored(self):
        """2.7: an unsolicited pong gets no answer; the next frame is the close echo."""
        client = self.connect()
        client.send_frame(OP_PONG, b"")
        client.close_handshake(1000)

    def test_unsolicited_pong_with_payload_is_ignored(self):
        """2.8"""
        client = self.connect()
        client.send_frame(OP_PONG, b"unsolicited pong payload")
        client.close_handshake(1000)

    def test_unsolicited_pong_then_ping_gets_only_the_pings_pong(self):
        """2.9: only the ping is answered, with its own payload."""
        client = self.connect()
        client.send_frame(OP_PONG, b"unsolicited pong payload")
        client.send_ping(b"ping payload")
        self.assertEqual(client.next_event(), Pong(b"ping payload"))
        client.close_handshake(1000)

    def test_ten_pings_get_ten_pongs_in_order(self):
        """2.10: ten pings in one write, ten pongs in the same order."""
        client = self.connect()
        payloads = [b"payload-%d" % i for i in range(10)]
        client.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads))
        for p in payloads:
            self.assertEqual(client.next_event(), Pong(p))
        client.close_handshake(1000)

    def test_ten_pings_written_one_byte_at_a_time(self):
        """2.11: the same ten pings, the whole stream one byte per write."""
        client = self.connect()
        payloads = [b"payload-%d" % i for i in range(10)]
        client.send_raw(b"".join(build_frame(OP_PING, p) for p in payloads), chop=1,
                        delay_s=0.001)
        for p in payloads:
            self.assertEqual(client.next_event(), Pong(p))
        client.close_handshake(1000)


if __name__ == "__main__":
    unittest.main()
