"""Conformance, category 1 (Autobahn 1.x): text and binary messages of every length
encoding (7-bit, 16-bit and 64-bit lengths) come back unchanged from an echo server,
whether the client writes a frame at once or in small pieces."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_TEXT, Message, ServerTestCase,  # noqa: E402
                              apply_mask, build_frame)


class TestFraming(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def assert_echoed(self, opcode, payload, chop=None):
        client = self.connect()
        client.send_frame(opcode, payload, chop=chop)
        self.assertEqual(client.recv_message(), Message(opcode, payload))
        client.close_handshake(1000)

    # 1.1 text

    def test_text_of_0_bytes(self):
        """1.1.1: a text message with an empty payload is echoed."""
        self.assert_echoed(OP_TEXT, b"")

    def test_text_of_125_bytes(self):
        """1.1.2: 125 bytes, the longest 7-bit length."""
        self.assert_echoed(OP_TEXT, b"*" * 125)

    def test_text_of_126_bytes(self):
        """1.1.3: 126 bytes, the shortest 16-bit length."""
        self.assert_echoed(OP_TEXT, b"*" * 126)

    def test_text_of_127_bytes(self):
        """1.1.4: 127 bytes."""
        self.assert_echoed(OP_TEXT, b"*" * 127)

    def test_text_of_128_bytes(self):
        """1.1.5: 128 bytes."""
        self.assert_echoed(OP_TEXT, b"*" * 128)

    def test_text_of_65535_bytes(self):
        """1.1.6: 65535 bytes, the longest 16-bit length."""
        self.assert_echoed(OP_TEXT, b"*" * 65535)

    def test_text_of_65536_bytes(self):
        """1.1.7: 65536 bytes, the shortest 64-bit length."""
        self.assert_echoed(OP_TEXT, b"*" * 65536)

    def test_text_of_65536_bytes_written_in_997_byte_chops(self):
        """1.1.8: 65536 bytes written 997 bytes at a time."""
        self.assert_echoed(OP_TEXT, b"*" * 65536, chop=997)

    # 1.2 binary

    def test_binary_of_0_bytes(self):
        """1.2.1: a binary message with an empty payload is echoed."""
        self.assert_echoed(OP_BINARY, b"")

    def test_binary_of_125_bytes(self):
        """1.2.2"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 125)

    def test_binary_of_126_bytes(self):
        """1.2.3"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 126)

    def test_binary_of_127_bytes(self):
        """1.2.4"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 127)

    def test_binary_of_128_bytes(self):
        """1.2.5"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 128)

    def test_binary_of_65535_bytes(self):
        """1.2.6"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 65535)

    def test_binary_of_65536_bytes(self):
        """1.2.7"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 65536)

    def test_binary_of_65536_bytes_written_in_997_byte_chops(self):
        """1.2.8"""
        self.assert_echoed(OP_BINARY, b"\xfe" * 65536, chop=997)

    # Beyond Autobahn 1.x: the length encodings are the peer's choice.

    def test_every_byte_value_survives_the_round_trip(self):
        """1.2.x (extension): all 256 byte values, so no byte is treated specially."""
        self.assert_echoed(OP_BINARY, bytes(range(256)) * 4)

    def test_messages_sent_back_to_back_come_back_in_order(self):
        """1.1.x (extension): 50 messages in one write are echoed one by one, in order."""
        client = self.connect()
        payloads = [(b"message %d " % i) * (i * 7) for i in range(50)]
        client.send_raw(b"".join(build_frame(OP_BINARY, p) for p in payloads))
        for p in payloads:
            self.assertEqual(client.recv_message(), Message(OP_BINARY, p))
        client.close_handshake(1000)

    def test_a_length_not_in_its_shortest_encoding_is_accepted(self):
        """1.1.x (extension): RFC 6455 does not require the minimal length encoding, so a
        5-byte payload announced with a 16-bit and with a 64-bit length is echoed."""
        client = self.connect()
        key = b"\x01\x02\x03\x04"
        payload = b"short"
        client.send_raw(bytes([0x82, 0x80 | 126]) + struct.pack("!H", 5) + key +
                        apply_mask(payload, key))
        self.assertEqual(client.recv_message(), Message(OP_BINARY, payload))
        client.send_raw(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 5) + key +
                        apply_mask(payload, key))
        self.assertEqual(client.recv_message(), Message(OP_BINARY, payload))
        client.close_handshake(1000)


if __name__ == "__main__":
    unittest.main()
