"""Conformance: the opening handshake (RFC 6455 section 4, over strict HTTP/1.1).

A valid upgrade gets 101 with the right Sec-WebSocket-Accept. Every malformed or refused
upgrade gets a real HTTP error response with the status the spec names, the headers that
status requires, Connection: close, and then the server closes the connection:

    not GET 405 | Host missing or repeated 400 | no "websocket" in Upgrade 426
    no "upgrade" in Connection 400 | Sec-WebSocket-Key not base64 of 16 bytes 400
    Sec-WebSocket-Version not 13: 426 + "Sec-WebSocket-Version: 13" | Origin refused 403
    HTTP/1.0 505 | head over max_header_bytes or max_headers 431

Subprotocols: the server's first preference that the client offered."""

import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, OP_TEXT, HandshakeRefused, Message,  # noqa: E402
                              RawClient, ServerTestCase, accept_for, build_frame,
                              http_exchange, upgrade_request)


def raw_request(lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1")


KEY = "dGhlIHNhbXBsZSBub25jZQ=="   # the example key of RFC 6455 section 1.3


class HandshakeTestCase(ServerTestCase):

    def exchange(self, request, **kw):
        response = http_exchange(self.server.ws_port, request, **kw)
        self.assertIsNotNone(response, "the server closed the connection without answering")
        return response

    def assert_refused(self, request, status):
        """Asserts an error response with `status`, Connection: close, a Content-Length
        that matches its body if it has one, and the connection closed after it."""
        response = self.exchange(request)
        self.assertEqual(response.status, status, f"{response.reason} {response.body[:200]!r}")
        self.assertIn("close", (response.header("connection") or "").lower(),
                      "error responses must say Connection: close")
        length = response.header("content-length")
        if length is not None:
            self.assertEqual(int(length), len(response.body))
        self.assertTrue(response.closed, "the server must close the connection after an error")
        return response

    def assert_upgrade_refused(self, status, headers=(), path="/", version="13"):
        request, _ = upgrade_request(path=path, headers=list(headers), version=version)
        return self.assert_refused(request, status)

    def assert_accepted(self, headers=()):
        client = self.connect(headers=list(headers))
        client.echo_roundtrip()
        client.close_handshake(1000)
        return client


class TestHandshake(HandshakeTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0")

    # what a good handshake looks like

    def test_valid_upgrade_gets_101_with_the_rfc_accept_value(self):
        """4.2.2: the RFC's example key gets the RFC's example accept value."""
        client = self.connect(key=KEY)
        response = client.response
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertEqual(accept_for(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertEqual((response.header("upgrade") or "").lower(), "websocket")
        self.assertIn("upgrade", (response.header("connection") or "").lower())
        self.assertIsNone(response.header("sec-websocket-protocol"),
                          "no subprotocol was offered, none may be chosen")
        client.echo_roundtrip()
        client.close_handshake(1000)

    def test_extensions_offered_are_not_accepted(self):
        """4.2.2: we negotiate no extension, so permessage-deflate offered by a browser is
        not in the response (and frames keep RSV1 clear)."""
        client = self.connect(headers=[("Sec-WebSocket-Extensions",
                                        "permessage-deflate; client_max_window_bits")])
        self.assertIsNone(client.response.header("sec-websocket-extensions"))
        client.echo_roundtrip()
        client.close_handshake(1000)

    def test_header_names_and_tokens_are_case_insensitive(self):
        """4.2.1: "upgrade: WebSocket" and "connection: keep-alive, Upgrade" (what Firefox
        sends) are a valid upgrade."""
        request = raw_request([
            "GET / HTTP/1.1", "host: 127.0.0.1", "upgrade: WebSocket",
            "connection: keep-alive, Upgrade", "sec-websocket-key: " + KEY,
            "SEC-WEBSOCKET-VERSION: 13", "User-Agent: Mozilla/5.0"])
        client = RawClient.connect(self.server.ws_port, request=request, key=KEY)
        self.addCleanup(client.abort)
        client.echo_roundtrip()
        client.close_handshake(1000)

    def test_first_frame_in_the_same_packet_as_the_request(self):
        """4.1: a client may send its first frame right behind the request; it is not lost."""
        client = self.connect(first_bytes=build_frame(OP_TEXT, b"early bird"))
        self.assertEqual(client.recv_message(), Message(OP_TEXT, b"early bird"))
        client.close_handshake(1000)

    def test_head_just_under_the_byte_limit_is_accepted(self):
        """4.2.1 (limits): about 7 KiB of headers fit under the default 8k max_header_bytes."""
        self.assert_accepted([("X-Padding", "p" * 7000)])

    def test_thirty_headers_are_accepted(self):
        """4.2.1 (limits): 30 header lines fit under the default max_headers of 32."""
        self.assert_accepted([("X-Extra-%d" % i, "v") for i in range(25)])

    # refused: method, version, host

    def test_post_gets_405(self):
        """4.2.1/1: the method must be GET; 405 says which one is allowed."""
        request, _ = upgrade_request()
        response = self.assert_refused(request.replace(b"GET ", b"POST ", 1), 405)
        self.assertIn("GET", response.header("allow") or "", "405 must carry Allow: GET")

    def test_http_1_0_gets_505(self):
        """4.2.1/1: HTTP/1.1 or later is required; tidegate speaks exactly 1.1."""
        request, _ = upgrade_request()
        self.assert_refused(request.replace(b"HTTP/1.1", b"HTTP/1.0", 1), 505)

    def test_http_2_0_request_line_gets_505(self):
        """4.2.1/1: an HTTP/2.0 request line is not an HTTP/1.1 upgrade."""
        request, _ = upgrade_request()
        self.assert_refused(request.replace(b"HTTP/1.1", b"HTTP/2.0", 1), 505)

    def test_missing_host_gets_400(self):
        """4.2.1/2"""
        self.assert_upgrade_refused(400, [("Host", None)])

    def test_two_host_headers_get_400(self):
        """4.2.1/2 (RFC 9112 3.2: a request with more than one Host is invalid)"""
        self.assert_upgrade_refused(400, [("Host", "evil.example")])

    # refused: Upgrade and Connection

    def test_missing_upgrade_gets_426(self):
        """4.2.1/3: 426 names the protocol to upgrade to."""
        response = self.assert_upgrade_refused(426, [("Upgrade", None)])
        self.assertIn("websocket", (response.header("upgrade") or "").lower(),
                      "426 must carry Upgrade: websocket")

    def test_upgrade_to_another_protocol_gets_426(self):
        """4.2.1/3"""
        self.assert_upgrade_refused(426, [("Upgrade", None), ("Upgrade", "h2c")])

    def test_connection_without_upgrade_gets_400(self):
        """4.2.1/4"""
        self.assert_upgrade_refused(400, [("Connection", None), ("Connection", "keep-alive")])

    def test_missing_connection_gets_400(self):
        """4.2.1/4"""
        self.assert_upgrade_refused(400, [("Connection", None)])

    # refused: Sec-WebSocket-Key

    def assert_key_refused(self, key):
        self.assert_upgrade_refused(400, [("Sec-WebSocket-Key", None),
                                          ("Sec-WebSocket-Key", key)])

    def test_missing_key_gets_400(self):
        """4.2.1/5"""
        self.assert_upgrade_refused(400, [("Sec-WebSocket-Key", None)])

    def test_key_that_is_not_base64_gets_400(self):
        """4.2.1/5"""
        self.assert_key_refused("not a base64 key!!!!!!==")

    def test_key_of_15_bytes_gets_400(self):
        """4.2.1/5: the key must decode to exactly 16 bytes."""
        self.assert_key_refused(base64.b64encode(b"k" * 15).decode())

    def test_key_of_17_bytes_gets_400(self):
        """4.2.1/5"""
        self.assert_key_refused(base64.b64encode(b"k" * 17).decode())

    def test_short_key_gets_400(self):
        """4.2.1/5"""
        self.assert_key_refused("abc")

    def test_two_keys_get_400(self):
        """4.2.1/5: exactly one key."""
        self.assert_upgrade_refused(400, [("Sec-WebSocket-Key", base64.b64encode(b"x" * 16).decode())])

    # refused: Sec-WebSocket-Version

    def test_version_8_gets_426_naming_version_13(self):
        """4.2.2/4 and 4.4: an unsupported version is answered with the one we speak."""
        response = self.assert_upgrade_refused(426, version="8")
        self.assertEqual(response.header("sec-websocket-version"), "13")

    def test_missing_version_gets_426_naming_version_13(self):
        """4.2.1/6"""
        response = self.assert_upgrade_refused(426, [("Sec-WebSocket-Version", None)])
        self.assertEqual(response.header("sec-websocket-version"), "13")

    # refused: malformed HTTP and limits

    def test_garbage_request_line_gets_400(self):
        """4.2.1 (strict HTTP/1.1): a request line that is not METHOD SP TARGET SP VERSION."""
        self.assert_refused(b"HELLO THERE\r\n\r\n", 400)

    def test_bare_lf_line_ending_gets_400(self):
        """4.2.1 (strict HTTP/1.1, RFC 9112 2.2): a header line ended by LF alone."""
        request, _ = upgrade_request()
        self.assert_refused(request.replace(b"\r\nUpgrade:", b"\nUpgrade:", 1), 400)

    def test_header_name_with_space_before_colon_gets_400(self):
        """4.2.1 (strict HTTP/1.1, RFC 9112 5.1: no whitespace between name and colon)."""
        request, _ = upgrade_request()
        self.assert_refused(request.replace(b"Upgrade:", b"Upgrade :", 1), 400)

    def test_head_over_max_header_bytes_gets_431(self):
        """4.2.1 (limits): 9000 bytes of one header exceed max_header_bytes = 8k."""
        self.assert_upgrade_refused(431, [("X-Padding", "p" * 9000)])

    def test_more_than_max_headers_gets_431(self):
        """4.2.1 (limits): 40 header lines exceed max_headers = 32."""
        self.assert_upgrade_refused(431, [("X-Extra-%d" % i, "v") for i in range(35)])


class TestOriginsAndSubprotocols(HandshakeTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0",
                   "--allowed-origins", "https://app.example.com,https://admin.example.com",
                   "--subprotocols", "chat.v2,chat.v1")

    APP = ("Origin", "https://app.example.com")

    def test_allowed_origin_is_accepted(self):
        """4.2.2/1 (origin policy): an Origin on the list connects."""
        self.assert_accepted([("Origin", "https://admin.example.com")])

    def test_other_origin_gets_403(self):
        """4.2.2/1: "the server MAY ... reply with 403 Forbidden" when it refuses the
        origin; tidegate does exactly that for origins off the list."""
        self.assert_upgrade_refused(403, [("Origin", "https://evil.example.com")])

    def test_origin_with_an_allowed_prefix_gets_403(self):
        """4.2.2/1: matching is exact, not by prefix."""
        self.assert_upgrade_refused(403, [("Origin", "https://app.example.com.evil.net")])

    def test_null_origin_gets_403(self):
        """4.2.2/1: "null" (sandboxed iframes, file: pages) is not on the list."""
        self.assert_upgrade_refused(403, [("Origin", "null")])

    def test_server_preference_wins_among_offered_subprotocols(self):
        """4.2.2/5: the client offers chat.v1, chat.v2; the server prefers chat.v2."""
        client = self.connect(headers=[self.APP, ("Sec-WebSocket-Protocol", "chat.v1, chat.v2")])
        self.assertEqual(client.subprotocol, "chat.v2")
        client.echo_roundtrip()
        client.close_handshake(1000)

    def test_only_offered_subprotocol_we_speak_is_chosen(self):
        """4.2.2/5: offered mqtt, chat.v1: chat.v1."""
        client = self.connect(headers=[self.APP, ("Sec-WebSocket-Protocol", "mqtt, chat.v1")])
        self.assertEqual(client.subprotocol, "chat.v1")
        client.close_handshake(1000)

    def test_no_common_subprotocol_means_none_chosen(self):
        """4.2.2/5: when nothing matches the connection opens with no subprotocol header
        (the client decides whether that is acceptable)."""
        client = self.connect(headers=[self.APP, ("Sec-WebSocket-Protocol", "mqtt")])
        self.assertIsNone(client.subprotocol)
        client.close_handshake(1000)

    def test_subprotocols_offered_in_two_header_lines(self):
        """11.3.4: Sec-WebSocket-Protocol may appear several times; the lines together are
        the offer."""
        client = self.connect(headers=[self.APP, ("Sec-WebSocket-Protocol", "mqtt"),
                                       ("Sec-WebSocket-Protocol", "chat.v2")])
        self.assertEqual(client.subprotocol, "chat.v2")
        client.close_handshake(1000)

    def test_refused_origin_is_not_upgraded_even_with_a_good_subprotocol(self):
        """4.2.2/1: the origin check comes before anything is negotiated."""
        with self.assertRaises(HandshakeRefused) as caught:
            RawClient.connect(self.server.ws_port, headers=[
                ("Origin", "https://evil.example.com"), ("Sec-WebSocket-Protocol", "chat.v2")])
        self.assertEqual(caught.exception.response.status, 403)

    def test_binary_echo_after_negotiation(self):
        """4.2.2: a negotiated connection carries data like any other."""
        client = self.connect(headers=[self.APP, ("Sec-WebSocket-Protocol", "chat.v1")])
        client.send_binary(b"\x00\x01\x02")
        self.assertEqual(client.recv_message(), Message(OP_BINARY, b"\x00\x01\x02"))
        client.close_handshake(1000)


if __name__ == "__main__":
    unittest.main()
