"""Conformance, category 4 (Autobahn 4.x): the reserved opcodes 3-7 (data) and 11-15
(control) fail the connection with 1002. Frames before the bad one are still handled;
nothing after it is."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_PING, OP_TEXT, Message, ServerTestCase,  # noqa: E402
                              build_frame)


class TestReservedOpcodes(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def assert_alone_fails(self, opcode, payload):
        client = self.connect()
        client.send_frame(opcode, payload)
        client.expect_close(1002)

    def assert_fails_between_text_and_ping(self, opcode, payload):
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"Hello, world!") + build_frame(opcode, payload) +
                        build_frame(OP_PING, b"Hello, world!"))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"Hello, world!"))
        client.expect_close(1002)

    # 4.1 reserved non-control opcodes

    def test_opcode_3_without_payload(self):
        """4.1.1"""
        self.assert_alone_fails(3, b"")

    def test_opcode_4_with_payload(self):
        """4.1.2"""
        self.assert_alone_fails(4, b"reserved opcode payload")

    def test_opcode_5_between_text_and_ping(self):
        """4.1.3: the text is echoed, the ping gets no pong."""
        self.assert_fails_between_text_and_ping(5, b"")

    def test_opcode_6_with_payload_between_text_and_ping(self):
        """4.1.4"""
        self.assert_fails_between_text_and_ping(6, b"Hello, world!")

    def test_opcode_7_with_payload_between_text_and_ping(self):
        """4.1.5"""
        self.assert_fails_between_text_and_ping(7, b"Hello, world!")

    # 4.2 reserved control opcodes

    def test_opcode_11_without_payload(self):
        """4.2.1"""
        self.assert_alone_fails(11, b"")

    def test_opcode_12_with_payload(self):
        """4.2.2"""
        self.assert_alone_fails(12, b"reserved opcode payload")

    def test_opcode_13_between_text_and_ping(self):
        """4.2.3"""
        self.assert_fails_between_text_and_ping(13, b"")

    def test_opcode_14_with_payload_between_text_and_ping(self):
        """4.2.4"""
        self.assert_fails_between_text_and_ping(14, b"Hello, world!")

    def test_opcode_15_with_payload_between_text_and_ping(self):
        """4.2.5"""
        self.assert_fails_between_text_and_ping(15, b"Hello, world!")


if __name__ == "__main__":
    unittest.main()
