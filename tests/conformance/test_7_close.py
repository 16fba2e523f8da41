"""Conformance, category 7 (Autobahn 7.x): the closing handshake.

The server answers a client's close with the same status code (1000 when the client gave
none), sends and answers nothing after it, and then closes TCP without waiting for
close_timeout. Close payloads are checked like everything else: 1 byte, a reserved or
unassigned code, a payload over 125 bytes -> 1002; a reason that is not UTF-8 -> 1007.

TestCloseHandshake runs a server with close_timeout = 30s and asserts TCP closes within
10 s, so a server that only closes when the timeout fires fails these tests."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Close,  # noqa: E402
                              Message, ServerTestCase, build_frame, close_payload)

VALID_CODES = {"7.7.1": 1000, "7.7.2": 1001, "7.7.3": 1002, "7.7.4": 1003, "7.7.5": 1007,
               "7.7.6": 1008, "7.7.7": 1009, "7.7.8": 1010, "7.7.9": 1011, "7.7.10": 3000,
               "7.7.11": 3999, "7.7.12": 4000, "7.7.13": 4999,
               # registered with IANA after Autobahn's list was written; valid per the spec
               "7.7.x (1012)": 1012, "7.7.x (1013)": 1013, "7.7.x (1014)": 1014}
INVALID_CODES = {"7.9.1": 0, "7.9.2": 999, "7.9.3": 1004, "7.9.4": 1005, "7.9.5": 1006,
                 "7.9.6": 1016, "7.9.7": 1100, "7.9.8": 2000, "7.9.9": 2999,
                 "7.9.x (1015)": 1015, "7.13.1": 5000, "7.13.2": 65535}


class TestCloseHandshake(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0", "--close-timeout", "30s")

    def test_message_then_close(self):
        """7.1.1: the message is echoed, then the close is answered with 1000 and TCP is
        closed by the server."""
        client = self.connect()
        client.send_text(b"Hello World!")
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"Hello World!"))
        client.close_handshake(1000)

    def test_second_close_is_ignored(self):
        """7.1.2: two closes back to back get one close back, then TCP closes."""
        client = self.connect()
        client.send_raw(build_frame(OP_CLOSE, close_payload(1000)) * 2)
        client.close_sent = True
        self.assertEqual(client.next_event(), Close(1000, b""))
        client.expect_tcp_closed()

    def test_ping_after_close_gets_no_pong(self):
        """7.1.3: nothing is answered after the client's close, not even a ping."""
        client = self.connect()
        client.send_raw(build_frame(OP_CLOSE, close_payload(1000)) +
                        build_frame(OP_PING, b"Hello World!"))
        client.close_sent = True
        self.assertEqual(client.next_event(), Close(1000, b""))
        client.expect_tcp_closed()

    def test_text_after_close_is_not_echoed(self):
        """7.1.4"""
        client = self.connect()
        client.send_raw(build_frame(OP_CLOSE, close_payload(1000)) +
                        build_frame(OP_TEXT, b"Hello World!"))
        client.close_sent = True
        self.assertEqual(client.next_event(), Close(1000, b""))
        client.expect_tcp_closed()

    def test_close_between_fragments(self):
        """7.1.5: first fragment, close, second fragment: the half message is dropped."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"fragment1", fin=False) +
                        build_frame(OP_CLOSE, close_payload(1000)) +
                        build_frame(OP_CONT, b"fragment2"))
        client.close_sent = True
        self.assertEqual(client.next_event(), Close(1000, b""))
        client.expect_tcp_closed()

    def test_large_message_then_close_then_ping(self):
        """7.1.6: 256 KiB text, a short text, close, ping, in one write. Echoes may be cut
        short by the close (Autobahn leaves it to the implementation), but whatever comes
        is whole and in order, then the close 1000, then nothing."""
        client = self.connect()
        big = b"BAsd7&jh23" * (256 * 1024 // 10)
        sent = [Message(OP_TEXT, big), Message(OP_TEXT, b"Hello World!")]
        client.send_raw(build_frame(OP_TEXT, big) + build_frame(OP_TEXT, b"Hello World!") +
                        build_frame(OP_CLOSE, close_payload(1000)) + build_frame(OP_PING))
        client.close_sent = True
        received = []
        while True:
            event = client.next_event()
            if isinstance(event, Close):
                break
            received.append(event)
        self.assertEqual(received, sent[:len(received)])
        self.assertEqual(event, Close(1000, b""))
        client.expect_tcp_closed()

    def test_close_without_payload_is_answered_with_1000(self):
        """7.3.1: an empty close (no status code) is answered with 1000."""
        client = self.connect()
        client.send_close()
        event = client.next_event()
        self.assertIsInstance(event, Close)
        self.assertEqual(event.code, 1000)
        client.expect_tcp_closed()

    def test_close_with_code_only(self):
        """7.3.3"""
        self.connect().close_handshake(1000)

    def test_close_with_code_and_reason(self):
        """7.3.4"""
        self.connect().close_handshake(1000, b"Hello World!")

    def test_close_with_longest_reason(self):
        """7.3.5: a 123-byte reason, the most that fits in 125 bytes."""
        self.connect().close_handshake(1000, b"*" * 123)

    def test_close_with_multibyte_utf8_reason(self):
        """7.5.x (extension): a valid UTF-8 reason with multi-byte characters."""
        self.connect().close_handshake(1000, "κόσμε ✓ 𤭢".encode("utf-8"))

    def test_server_closes_tcp_after_the_clients_answer_to_its_close(self):
        """7.x (spec): after the server fails a connection (reserved opcode, 1002) the
        client's close is still recognised and TCP closes at once, not at close_timeout."""
        client = self.connect()
        client.send_frame(3, b"")
        client.expect_close(1002, half_close=False)


def _add_valid_code_tests():
    for case, code in VALID_CODES.items():
        def test(self, code=code):
            self.connect().close_handshake(code)
        name = "test_close_code_%d_is_echoed" % code
        test.__name__ = name
        test.__doc__ = f"{case}: close with code {code} is answered with {code}."
        setattr(TestCloseHandshake, name, test)


class TestInvalidClose(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def test_close_with_one_byte_payload(self):
        """7.3.2: a 1-byte close payload cannot hold a code: 1002."""
        client = self.connect()
        client.send_frame(OP_CLOSE, b"\x03")
        client.close_sent = True
        client.expect_close(1002)

    def test_close_with_payload_over_125_bytes(self):
        """7.3.6: code plus 124-byte reason is 126 bytes, too long for a control frame."""
        client = self.connect()
        client.send_frame(OP_CLOSE, close_payload(1000, b"*" * 124))
        client.close_sent = True
        client.expect_close(1002)

    def test_close_with_invalid_utf8_reason(self):
        """7.5.1: a reason that is not UTF-8 (κόσμε F4 90 80 80 "edited") gets 1007."""
        client = self.connect()
        client.send_frame(OP_CLOSE, close_payload(1000, bytes.fromhex("cebae1bdb9cf83cebcceb5") +
                                                  b"\xf4\x90\x80\x80edited"))
        client.close_sent = True
        client.expect_close(1007)


def _add_invalid_code_tests():
    for case, code in INVALID_CODES.items():
        def test(self, code=code):
            client = self.connect()
            client.send_close(code)
            client.expect_close(1002)
        name = "test_close_code_%d_is_a_protocol_error" % code
        test.__name__ = name
        test.__doc__ = f"{case}: close with code {code}, which no endpoint may send: 1002."
        setattr(TestInvalidClose, name, test)


_add_valid_code_tests()
_add_invalid_code_tests()


if __name__ == "__main__":
    unittest.main()
