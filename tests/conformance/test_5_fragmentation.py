"""Conformance, category 5 (Autobahn 5.x): fragmented messages are reassembled and echoed
whole; control frames may sit between fragments and are answered at once; control frames
cannot be fragmented; a continuation with no message open, or a new data frame while one
is open, fails the connection with 1002.

Each scenario is sent three ways where Autobahn does: all frames in one write ("one
chop"), one write per frame, and one byte per write, because a server must not depend on
how TCP cuts the stream."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT,  # noqa: E402
                              Message, Pong, ServerTestCase, build_frame)

ONE_WRITE, FRAME_PER_WRITE, BYTE_PER_WRITE = "one write", "frame per write", "byte per write"


class TestFragmentation(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def send_frames(self, client, frames, how, delay_s=0.02):
        if how == ONE_WRITE:
            client.send_raw(b"".join(frames))
        elif how == FRAME_PER_WRITE:
            for f in frames:
                client.send_raw(f)
                time.sleep(delay_s)
        else:
            client.send_raw(b"".join(frames), chop=1, delay_s=0.001)

    # 5.1, 5.2 control frames cannot be fragmented

    def test_fragmented_ping_is_a_protocol_error(self):
        """5.1: a ping with FIN clear, then its "continuation", fails with 1002."""
        client = self.connect()
        client.send_raw(build_frame(OP_PING, b"fragment1", fin=False) +
                        build_frame(OP_CONT, b"fragment2"))
        client.expect_close(1002)

    def test_fragmented_pong_is_a_protocol_error(self):
        """5.2"""
        client = self.connect()
        client.send_raw(build_frame(OP_PONG, b"fragment1", fin=False) +
                        build_frame(OP_CONT, b"fragment2"))
        client.expect_close(1002)

    # 5.3 - 5.5 a text message in two fragments

    def assert_two_fragments_echoed(self, how):
        client = self.connect()
        self.send_frames(client, [build_frame(OP_TEXT, b"fragment1", fin=False),
                                  build_frame(OP_CONT, b"fragment2")], how)
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"fragment1fragment2"))
        client.close_handshake(1000)

    def test_text_in_two_fragments(self):
        """5.3: the echo is the whole message."""
        self.assert_two_fragments_echoed(ONE_WRITE)

    def test_text_in_two_fragments_frame_per_write(self):
        """5.4"""
        self.assert_two_fragments_echoed(FRAME_PER_WRITE)

    def test_text_in_two_fragments_byte_per_write(self):
        """5.5"""
        self.assert_two_fragments_echoed(BYTE_PER_WRITE)

    # 5.6 - 5.8 a ping between the fragments

    def assert_ping_between_fragments(self, how):
        client = self.connect()
        self.send_frames(client, [build_frame(OP_TEXT, b"fragment1", fin=False),
                                  build_frame(OP_PING, b"ping payload"),
                                  build_frame(OP_CONT, b"fragment2")], how)
        self.assertEqual(client.next_event(), Pong(b"ping payload"))
        self.assertEqual(client.next_event(), Message(OP_TEXT, b"fragment1fragment2"))
        client.close_handshake(1000)

    def test_ping_between_two_fragments(self):
        """5.6: the ping is answered before the message completes; then the echo."""
        self.assert_ping_between_fragments(ONE_WRITE)

    def test_ping_between_two_fragments_frame_per_write(self):
        """5.7"""
        self.assert_ping_between_fragments(FRAME_PER_WRITE)

    def test_ping_between_two_fragments_byte_per_write(self):
        """5.8"""
        self.assert_ping_between_fragments(BYTE_PER_WRITE)

    # 5.9 - 5.14 continuation with nothing to continue

    def assert_orphan_continuation_fails(self, fin, how):
        client = self.connect()
        self.send_frames(client, [build_frame(OP_CONT, b"non-continuation payload", fin=fin),
                                  build_frame(OP_TEXT, b"Hello, world!")], how)
        client.expect_close(1002)

    def test_orphan_final_continuation(self):
        """5.9: a continuation (FIN set) with no message open fails with 1002; the text
        after it is not echoed."""
        self.assert_orphan_continuation_fails(True, ONE_WRITE)

    def test_orphan_final_continuation_frame_per_write(self):
        """5.10"""
        self.assert_orphan_continuation_fails(True, FRAME_PER_WRITE)

    def test_orphan_final_continuation_byte_per_write(self):
        """5.11"""
        self.assert_orphan_continuation_fails(True, BYTE_PER_WRITE)

    def test_orphan_continuation_without_fin(self):
        """5.12: the same with FIN clear."""
        self.assert_orphan_continuation_fails(False, ONE_WRITE)

    def test_orphan_continuation_without_fin_frame_per_write(self):
        """5.13"""
        self.assert_orphan_continuation_fails(False, FRAME_PER_WRITE)

    def test_orphan_continuation_without_fin_byte_per_write(self):
        """5.14"""
        self.assert_orphan_continuation_fails(False, BYTE_PER_WRITE)

    # 5.15 - 5.18 broken sequences

    def test_continuation_after_a_finished_message(self):
        """5.15: a complete two-fragment message is echoed; the continuation after it has
        nothing to continue and fails the connection."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) +
                        build_frame(OP_CONT, b"fragment2") +
                        build_frame(OP_CONT, b"fragment3", fin=False) +
                        build_frame(OP_TEXT, b"fragment4"))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"fragment1fragment2"))
        client.expect_close(1002)

    def test_sequence_starting_with_continuation_without_fin(self):
        """5.16: (continuation, text FIN clear, continuation FIN set) twice: the first
        frame already fails."""
        client = self.connect()
        once = (build_frame(OP_CONT, b"fragment1", fin=False) +
                build_frame(OP_TEXT, b"fragment2", fin=False) + build_frame(OP_CONT, b"fragment3"))
        client.send_raw(once + once)
        client.expect_close(1002)

    def test_sequence_starting_with_final_continuation(self):
        """5.17: the same with the first continuation's FIN set."""
        client = self.connect()
        once = (build_frame(OP_CONT, b"fragment1") +
                build_frame(OP_TEXT, b"fragment2", fin=False) + build_frame(OP_CONT, b"fragment3"))
        client.send_raw(once + once)
        client.expect_close(1002)

    def test_text_frame_inside_an_open_text_message(self):
        """5.18: two fragments both with opcode text: a new data frame while a message is
        open fails with 1002, and nothing is echoed."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) +
                        build_frame(OP_TEXT, b"fragment2"))
        client.expect_close(1002)

    def test_binary_frame_inside_an_open_text_message(self):
        """5.18 (extension): the same with a binary frame opening inside the text one."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) +
                        build_frame(OP_BINARY, b"fragment2"))
        client.expect_close(1002)

    # 5.19, 5.20 five fragments with two pings, sent slowly

    def assert_five_fragments_with_pings(self, chop_each_frame):
        client = self.connect()
        steps = [build_frame(OP_TEXT, b"fragment1", fin=False),
                 build_frame(OP_CONT, b"fragment2", fin=False),
                 build_frame(OP_PING, b"pongme 1!"),
                 build_frame(OP_CONT, b"fragment3", fin=False),
                 build_frame(OP_CONT, b"fragment4", fin=False),
                 build_frame(OP_PING, b"pongme 2!"),
                 build_frame(OP_CONT, b"fragment5")]
        for frame in steps:
            client.send_raw(frame, chop=1 if chop_each_frame else None,
                            delay_s=0.002 if chop_each_frame else 0.0)
            time.sleep(0.2)
        self.assertEqual(client.next_event(), Pong(b"pongme 1!"))
        self.assertEqual(client.next_event(), Pong(b"pongme 2!"))
        self.assertEqual(client.next_event(),
                         Message(OP_TEXT, b"fragment1fragment2fragment3fragment4fragment5"))
        client.close_handshake(1000)

    def test_five_fragments_with_two_pings_sent_with_pauses(self):
        """5.19: pongs come as the pings arrive, then the whole message."""
        self.assert_five_fragments_with_pings(False)

    def test_five_fragments_with_two_pings_each_frame_byte_per_write(self):
        """5.20: the same, each frame one byte per write."""
        self.assert_five_fragments_with_pings(True)

    # Beyond Autobahn

    def test_binary_message_in_many_fragments_of_uneven_size(self):
        """5.3 (extension): 200 binary fragments of 0..199 bytes make one message."""
        client = self.connect()
        parts = [bytes([i % 251]) * i for i in range(200)]
        frames = [build_frame(OP_BINARY if i == 0 else OP_CONT, p, fin=(i == len(parts) - 1))
                  for i, p in enumerate(parts)]
        client.send_raw(b"".join(frames))
        self.assertEqual(client.recv_message(), Message(OP_BINARY, b"".join(parts)))
        client.close_handshake(1000)


if __name__ == "__main__":
    unittest.main()
