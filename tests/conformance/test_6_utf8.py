"""Conformance, category 6 (Autobahn 6.x): text messages must be valid UTF-8 (RFC 3629:
no overlong forms, no surrogates, nothing above U+10FFFF). Valid text is echoed byte for
byte; invalid text fails the connection with 1007, and fails it fast: at the first byte
that can never become valid, even in the middle of a fragment or a frame, without waiting
for the rest of the message.

6.5 to 6.23 are the sequences of Markus Kuhn's UTF-8 decoder stress test, grouped and
numbered the way the Autobahn testsuite numbers them; one test method per sequence is
generated from the table below, each with the case number in its name and docstring."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_CONT, OP_TEXT, Message,  # noqa: E402
                              ServerTestCase, build_frame)

KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")      # κόσμε, with U+1F79 as Autobahn has it
HELLO_UTF8 = "Hello-µ@ßöäüàá-UTF-8!!".encode("utf-8")
TOO_HIGH = b"\xf4\x90\x80\x80"                          # would be U+110000
EDITED = b"edited"


def h(text):
    return bytes.fromhex(text)


def _prefixes_of_kosme():
    boundaries = {2, 5, 7, 9, 11}
    return [(n in boundaries, KOSME[:n]) for n in range(1, len(KOSME) + 1)]


def _noncharacters():
    cases = [(True, h("efbfbe")), (True, h("efbfbf"))]
    for lead in (0xf0, 0xf1, 0xf2, 0xf3, 0xf4):
        for second in (0x8f, 0x9f, 0xaf, 0xbf):
            if lead == 0xf4 and second != 0x8f:
                continue                                 # above U+10FFFF
            if lead == 0xf0 and second == 0x8f:
                continue                                 # overlong
            for last in (0xbe, 0xbf):
                cases.append((True, bytes([lead, second, 0xbf, last])))
    return cases


MISSING_LAST = [h("c0"), h("e080"), h("f08080"), h("f8808080"), h("fc80808080"),
                h("df"), h("efbf"), h("f7bfbf"), h("fbbfbfbf"), h("fdbfbfbfbf")]

# (Autobahn group, title, [(valid, payload), ...]); case 6.G.N is the N-th payload of G.
SEQUENCES = [
    ("6.5", "some valid UTF-8", [
        (True, b"hello$world"), (True, b"hello\xc2\xa2world"), (True, b"hello\xe2\x82\xacworld"),
        (True, b"hello\xf0\xa4\xad\xa2world"), (True, KOSME)]),
    ("6.6", "every prefix of a valid multi-byte string", _prefixes_of_kosme()),
    ("6.7", "first possible sequence of each length", [
        (True, h("00")), (True, h("c280")), (True, h("e0a080")), (True, h("f0908080"))]),
    ("6.8", "first possible 5- and 6-byte sequences", [
        (False, h("f888808080")), (False, h("fc8480808080"))]),
    ("6.9", "last possible sequence of each length", [
        (True, h("7f")), (True, h("dfbf")), (True, h("efbfbf")), (True, h("f48fbfbf"))]),
    ("6.10", "last possible 4-, 5- and 6-byte sequences beyond U+10FFFF", [
        (False, h("f7bfbfbf")), (False, h("fbbfbfbfbf")), (False, h("fdbfbfbfbfbf"))]),
    ("6.11", "other boundary conditions", [
        (True, h("ed9fbf")), (True, h("ee8080")), (True, h("efbfbd")), (True, h("f48fbfbf")),
        (False, h("f4908080"))]),
    ("6.12", "unexpected continuation bytes", [
        (False, h("80")), (False, h("bf")), (False, h("80bf")), (False, h("80bf80")),
        (False, h("80bf80bf")), (False, h("80bf80bf80")), (False, h("80bf80bf80bf")),
        (False, bytes(range(0x80, 0xbf)))]),
    ("6.13", "lonely start bytes, each followed by a space", [
        (False, b"".join(bytes([c, 0x20]) for c in range(lo, hi)))
        for lo, hi in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd))]),
    ("6.14", "sequences with the last continuation byte missing",
        [(False, k) for k in MISSING_LAST]),
    ("6.15", "concatenation of incomplete sequences", [(False, b"".join(MISSING_LAST))]),
    ("6.16", "impossible bytes", [(False, h("fe")), (False, h("ff")), (False, h("fefeffff"))]),
    ("6.17", "overlong ASCII character", [
        (False, h("c0af")), (False, h("e080af")), (False, h("f08080af")),
        (False, h("f8808080af")), (False, h("fc80808080af"))]),
    ("6.18", "maximum overlong sequences", [
        (False, h("c1bf")), (False, h("e09fbf")), (False, h("f08fbfbf")),
        (False, h("f887bfbfbf")), (False, h("fc83bfbfbfbf"))]),
    ("6.19", "overlong NUL", [
        (False, h("c080")), (False, h("e08080")), (False, h("f0808080")),
        (False, h("f880808080")), (False, h("fc8080808080"))]),
    ("6.20", "single UTF-16 surrogates", [
        (False, h(x)) for x in ("eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80",
                                 "edbfbf")]),
    ("6.21", "paired UTF-16 surrogates", [
        (False, h(x)) for x in ("eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
                                 "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf")]),
    ("6.22", "non-characters (valid UTF-8)", _noncharacters()),
    ("6.23", "Unicode specials, replacement character", [
        (True, h(x)) for x in ("efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe",
                                "efbfbf")]),
]


class TestUtf8(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    def assert_echoed_text(self, payload):
        client = self.connect()
        client.send_frame(OP_TEXT, payload)
        self.assertEqual(client.recv_message(), Message(OP_TEXT, payload))
        client.close_handshake(1000)

    def assert_refused_text(self, payload):
        client = self.connect()
        client.send_frame(OP_TEXT, payload)
        client.expect_close(1007)

    # 6.1 empty text

    def test_empty_text(self):
        """6.1.1: a text message of 0 bytes is valid and echoed."""
        self.assert_echoed_text(b"")

    def test_empty_text_in_three_empty_fragments(self):
        """6.1.2: three empty fragments make one empty message."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"", fin=False) + build_frame(OP_CONT, b"", fin=False) +
                        build_frame(OP_CONT, b""))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b""))
        client.close_handshake(1000)

    def test_text_with_empty_first_and_last_fragments(self):
        """6.1.3: empty, "middle frame payload", empty."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, b"", fin=False) +
                        build_frame(OP_CONT, b"middle frame payload", fin=False) +
                        build_frame(OP_CONT, b""))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"middle frame payload"))
        client.close_handshake(1000)

    # 6.2 valid UTF-8, fragmented in several ways

    def test_valid_utf8_in_one_frame(self):
        """6.2.1"""
        self.assert_echoed_text(HELLO_UTF8)

    def test_valid_utf8_fragmented_on_code_points(self):
        """6.2.2: two fragments split between characters."""
        client = self.connect()
        cut = HELLO_UTF8.index("ß".encode())
        client.send_raw(build_frame(OP_TEXT, HELLO_UTF8[:cut], fin=False) +
                        build_frame(OP_CONT, HELLO_UTF8[cut:]))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, HELLO_UTF8))
        client.close_handshake(1000)

    def assert_one_byte_per_fragment_echoed(self, payload):
        client = self.connect()
        frames = [build_frame(OP_TEXT if i == 0 else OP_CONT, payload[i:i + 1],
                              fin=(i == len(payload) - 1)) for i in range(len(payload))]
        client.send_raw(b"".join(frames))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, payload))
        client.close_handshake(1000)

    def test_valid_utf8_one_byte_per_fragment(self):
        """6.2.3: every byte its own fragment, so characters are split across frames."""
        self.assert_one_byte_per_fragment_echoed(HELLO_UTF8)

    def test_kosme_one_byte_per_fragment(self):
        """6.2.4: "κόσμε", every byte its own fragment."""
        self.assert_one_byte_per_fragment_echoed(KOSME)

    def test_kosme_in_one_frame_written_one_byte_at_a_time(self):
        """6.2.4 (extension): one frame whose bytes arrive one per write."""
        client = self.connect()
        client.send_raw(build_frame(OP_TEXT, KOSME), chop=1, delay_s=0.002)
        self.assertEqual(client.recv_message(), Message(OP_TEXT, KOSME))
        client.close_handshake(1000)

    # 6.3 invalid UTF-8

    def test_invalid_utf8_in_one_frame(self):
        """6.3.1: κόσμε + F4 90 80 80 + "edited" fails with 1007."""
        self.assert_refused_text(KOSME + TOO_HIGH + EDITED)

    def test_invalid_utf8_one_byte_per_fragment(self):
        """6.3.2: the same, every byte its own fragment."""
        client = self.connect()
        payload = KOSME + TOO_HIGH + EDITED
        frames = [build_frame(OP_TEXT if i == 0 else OP_CONT, payload[i:i + 1],
                              fin=(i == len(payload) - 1)) for i in range(len(payload))]
        client.send_raw(b"".join(frames))
        client.expect_close(1007)

    # 6.4 fail fast: the rest of the message is never sent, the close must come anyway

    def test_fail_fast_on_the_invalid_fragment(self):
        """6.4.1: fragment 1 valid, fragment 2 invalid (F4 90 80 80), fragment 3 never
        sent: the server closes with 1007 after fragment 2."""
        client = self.connect()
        client.send_frame(OP_TEXT, KOSME, fin=False)
        client.send_frame(OP_CONT, TOO_HIGH, fin=False)
        client.expect_close(1007)

    def test_fail_fast_on_the_first_impossible_byte_of_a_fragment(self):
        """6.4.2: fragment 1 ends with F4 (still a valid prefix), fragment 2 is the single
        byte 90 that makes it invalid; fragment 3 is never sent."""
        client = self.connect()
        client.send_frame(OP_TEXT, KOSME + b"\xf4", fin=False)
        client.send_frame(OP_CONT, b"\x90", fin=False)
        client.expect_close(1007)

    def partial_frame_head(self, payload, key=b"\x11\x22\x33\x44"):
        """A text frame announcing all of `payload`, and the masked payload."""
        whole = build_frame(OP_TEXT, payload, mask_key=key)
        head_len = len(whole) - len(payload)
        return whole[:head_len], whole[head_len:]

    def test_fail_fast_inside_one_frame(self):
        """6.4.3: one frame announcing the whole invalid payload; only its first two
        chops (κόσμε, then F4 90 80 80) are written: 1007 must come mid-frame."""
        client = self.connect()
        head, masked = self.partial_frame_head(KOSME + TOO_HIGH + EDITED)
        client.send_raw(head + masked[:len(KOSME)])
        client.send_raw(masked[len(KOSME):len(KOSME) + len(TOO_HIGH)])
        client.expect_close(1007)

    def test_fail_fast_inside_one_frame_at_the_first_impossible_byte(self):
        """6.4.4: chops κόσμε F4, then the single byte 90; the rest is never written."""
        client = self.connect()
        head, masked = self.partial_frame_head(KOSME + TOO_HIGH + EDITED)
        client.send_raw(head + masked[:len(KOSME) + 1])
        client.send_raw(masked[len(KOSME) + 1:len(KOSME) + 2])
        client.expect_close(1007)

    def test_fail_fast_in_a_large_frame_long_before_its_end(self):
        """6.4.3 (extension): a 512 KiB text frame whose 1001st byte is invalid is refused
        after the first 4 KiB, though the other 508 KiB never arrive."""
        client = self.connect()
        payload = b"a" * 1000 + b"\xff" + b"a" * (512 * 1024 - 1001)
        head, masked = self.partial_frame_head(payload)
        client.send_raw(head + masked[:4096])
        client.expect_close(1007)

    def test_surrogate_split_across_fragments(self):
        """6.20 (extension): ED in one fragment, A0 80 (making a surrogate) in the next."""
        client = self.connect()
        client.send_frame(OP_TEXT, b"abc\xed", fin=False)
        client.send_frame(OP_CONT, b"\xa0\x80def", fin=False)
        client.expect_close(1007)

    def test_message_ending_inside_a_character(self):
        """6.6 (extension): fragments that are each valid prefixes, but the message ends
        in the middle of a character (E2 82 without AC)."""
        client = self.connect()
        client.send_frame(OP_TEXT, b"price: \xe2", fin=False)
        client.send_frame(OP_CONT, b"\x82", fin=True)
        client.expect_close(1007)

    def test_invalid_bytes_in_binary_messages_are_not_checked(self):
        """6.x (extension): binary messages carry any bytes; only text is UTF-8."""
        client = self.connect()
        client.send_frame(OP_BINARY, KOSME + TOO_HIGH + b"\xff\xfe\xc0\x80")
        self.assertEqual(client.recv_message(), Message(OP_BINARY, KOSME + TOO_HIGH + b"\xff\xfe\xc0\x80"))
        client.close_handshake(1000)


def _add_sequence_tests():
    for group, title, cases in SEQUENCES:
        for n, (valid, payload) in enumerate(cases, 1):
            case = f"{group}.{n}"
            verdict = "valid, echoed" if valid else "invalid, close 1007"

            def test(self, payload=payload, valid=valid):
                if valid:
                    self.assert_echoed_text(payload)
                else:
                    self.assert_refused_text(payload)

            name = "test_%s_%s" % (case.replace(".", "_"), "valid" if valid else "invalid")
            test.__name__ = name
            test.__doc__ = f"{case}: {title}: {payload.hex()} is {verdict}."
            setattr(TestUtf8, name, test)


_add_sequence_tests()


if __name__ == "__main__":
    unittest.main()
