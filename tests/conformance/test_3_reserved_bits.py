"""Conformance, category 3 (Autobahn 3.x): tidegate negotiates no extension, so a frame
with any RSV bit set fails the connection with 1002, whatever its opcode. Frames before
the bad one are still handled (their echo and pongs come first); frames after it are not
(no pong for a ping that follows)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT,  # noqa: E402
                              Message, ServerTestCase, build_frame, close_payload)

RSV1, RSV2, RSV3 = 0b100, 0b010, 0b001


class TestReservedBits(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def assert_fails_after_echo(self, frames, chop=None, per_frame_delay_s=0.0):
        """Sends: a valid "Hello, world!", the bad frame, a ping. Expects the echo, then
        close 1002 and no pong."""
        client = self.connect()
        stream = [build_frame(OP_TEXT, b"Hello, world!")] + frames + [build_frame(OP_PING)]
        if per_frame_delay_s:
            for f in stream:
                client.send_raw(f)
                time.sleep(per_frame_delay_s)
        else:
            client.send_raw(b"".join(stream), chop=chop, delay_s=0.001 if chop else 0.0)
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"Hello, world!"))
        client.expect_close(1002)

    def test_text_with_rsv1(self):
        """3.1: a small text message with RSV1 set fails with 1002 and is not echoed."""
        client = self.connect()
        client.send_frame(OP_TEXT, b"Hello, world!", rsv=RSV1)
        client.expect_close(1002)

    def test_text_with_rsv2_between_valid_message_and_ping_in_one_write(self):
        """3.2: valid text, text with RSV2, ping, all in one write."""
        self.assert_fails_after_echo([build_frame(OP_TEXT, b"Hello, world!", rsv=RSV2)])

    def test_text_with_rsv1_rsv2_written_frame_by_frame(self):
        """3.3: the same stream with RSV1|RSV2, one write per frame."""
        self.assert_fails_after_echo([build_frame(OP_TEXT, b"Hello, world!",
                                                  rsv=RSV1 | RSV2)], per_frame_delay_s=0.05)

    def test_text_with_rsv3_written_one_byte_at_a_time(self):
        """3.4: the same stream with RSV3, one byte per write."""
        self.assert_fails_after_echo([build_frame(OP_TEXT, b"Hello, world!", rsv=RSV3)],
                                     chop=1)

    def test_binary_with_rsv1_rsv3(self):
        """3.5: a binary message with RSV1|RSV3 set."""
        client = self.connect()
        client.send_frame(OP_BINARY, bytes(range(8)), rsv=RSV1 | RSV3)
        client.expect_close(1002)

    def test_ping_with_rsv2_rsv3(self):
        """3.6: a ping with RSV2|RSV3 set gets close 1002, not a pong."""
        client = self.connect()
        client.send_frame(OP_PING, b"Hello, world!", rsv=RSV2 | RSV3)
        client.expect_close(1002)

    def test_close_with_all_rsv_bits(self):
        """3.7: a close with RSV1|RSV2|RSV3 set is answered with 1002, not echoed."""
        client = self.connect()
        client.send_frame(OP_CLOSE, close_payload(1000), rsv=RSV1 | RSV2 | RSV3)
        client.expect_close(1002)


if __name__ == "__main__":
    unittest.main()
