#!/usr/bin/python3
"""Writes the seed corpus for tests/fuzz/fuzz_http.c into tests/fuzz/corpus/http/.

Seeds are upgrade requests as real clients send them, 101 and error responses, and heads
broken in each way the parser distinguishes. Run it again after editing the lists; it
rewrites every file it owns and leaves other files in the directory alone.

    /usr/bin/python3 tests/fuzz/make_seeds_http.py
"""
import os

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def head(first, lines):
    return (first + "\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n").encode()


BASE = [
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: " + KEY,
]


def base_with(replace=None, extra=(), first="GET /chat HTTP/1.1"):
    lines = [line for line in BASE if replace is None or not line.startswith(replace[0])]
    if replace is not None and replace[1] is not None:
        lines.append(replace[1])
    return head(first, lines + list(extra))


REQUESTS = {
    "req_minimal": base_with(),
    "req_chrome": head("GET /chat?room=lobby HTTP/1.1", [
        "Host: example.com",
        "Connection: Upgrade",
        "Pragma: no-cache",
        "Cache-Control: no-cache",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Upgrade: websocket",
        "Origin: https://example.com",
        "Sec-WebSocket-Version: 13",
        "Accept-Encoding: gzip, deflate, br",
        "Accept-Language: en-US,en;q=0.9",
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    ]),
    "req_firefox": head("GET /chat HTTP/1.1", [
        "Host: example.com",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Accept: */*",
        "Accept-Language: en-US,en;q=0.5",
        "Accept-Encoding: gzip, deflate, br",
        "Sec-WebSocket-Version: 13",
        "Origin: https://example.com",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "Sec-WebSocket-Key: " + KEY,
        "Connection: keep-alive, Upgrade",
        "Sec-Fetch-Dest: empty",
        "Sec-Fetch-Mode: websocket",
        "Sec-Fetch-Site: same-origin",
        "Upgrade: websocket",
    ]),
    "req_safari": head("GET /socket?token=abc%20def&v=2 HTTP/1.1", [
        "Host: example.com",
        "Origin: https://example.com",
        "Sec-WebSocket-Protocol: tidegate.v1, chat",
        "Pragma: no-cache",
        "Accept-Language: en-GB,en;q=0.9",
        "Sec-WebSocket-Key: 3t6Grl9yN1GrWKP3ThqJUg==",
        "Upgrade: websocket",
        "Sec-WebSocket-Extensions: permessage-deflate",
        "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
    ]),
    "req_curl": head("GET /chat HTTP/1.1", [
        "Host: localhost:8080",
        "User-Agent: curl/7.88.1",
        "Accept: */*",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQAAAA==",
    ]),
    "req_python_websockets10": head("GET /chat HTTP/1.1", [
        "Host: localhost:8765",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: 3t6Grl9yN1GrWKP3ThqJUg==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "User-Agent: Python/3.11 websockets/10.4",
    ]),
    "req_node_ws": head("GET /chat HTTP/1.1", [
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: pqFt5M6jN8Bx1L2G6PWZnA==",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        "Host: localhost:8080",
    ]),
    "req_go_gorilla": head("GET /ws HTTP/1.1", [
        "Host: localhost:8080",
        "User-Agent: Go-http-client/1.1",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Protocol: tidegate.v1",
        "Sec-WebSocket-Version: 13",
        "Upgrade: websocket",
    ]),
    "req_absolute_form": base_with(first="GET ws://example.com:8080/chat?x=1 HTTP/1.1"),
    "req_absolute_no_path": base_with(first="GET HTTPS://example.com HTTP/1.1"),
    "req_with_frame_after": base_with() + b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    "req_obs_text_value": base_with(extra=["X-Name: caf\u00e9\tau lait"]),
    "req_wrong_method": base_with(first="POST /chat HTTP/1.1"),
    "req_no_host": base_with(replace=("Host", None)),
    "req_two_hosts": base_with(extra=["Host: other.example"]),
    "req_upgrade_h2c": base_with(replace=("Upgrade", "Upgrade: h2c")),
    "req_connection_keepalive": base_with(replace=("Connection", "Connection: keep-alive")),
    "req_version_list": base_with(replace=("Sec-WebSocket-Version",
                                           "Sec-WebSocket-Version: 13, 8")),
    "req_key_short": base_with(replace=("Sec-WebSocket-Key",
                                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=")),
    "req_key_space": base_with(replace=("Sec-WebSocket-Key",
                                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j ZQ==")),
    "req_key_noncanonical": base_with(replace=("Sec-WebSocket-Key",
                                               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==")),
    "req_bad_origin": base_with(extra=["Origin: https://evil.example"]),
    "req_two_origins": base_with(extra=["Origin: https://example.com", "Origin: null"]),
}

BROKEN = {
    "bad_lf_only": base_with().replace(b"\r\n", b"\n"),
    "bad_bare_cr": base_with(extra=["X: a\rb"]),
    "bad_nul_request_line": b"GET /ch\x00at HTTP/1.1\r\n",
    "bad_nul_value": base_with(extra=["X: a\x00b"]),
    "bad_space_before_colon": base_with(extra=["Host : example.com"]),
    "bad_obs_fold": base_with(extra=["X-Long: first", " continued"]),
    "bad_http10": base_with(first="GET /chat HTTP/1.0"),
    "bad_http2": base_with(first="GET /chat HTTP/2.0"),
    "bad_version_lower": base_with(first="GET /chat http/1.1"),
    "bad_double_space": base_with(first="GET  /chat HTTP/1.1"),
    "bad_asterisk": base_with(first="OPTIONS * HTTP/1.1"),
    "bad_connect": base_with(first="CONNECT example.com:443 HTTP/1.1"),
    "bad_too_many_headers": base_with(extra=["X-Pad-%d: %d" % (i, i) for i in range(20)]),
    "bad_tls_client_hello": bytes.fromhex("160301020001000200030300") + b"\x00" * 20,
    "bad_proxy_v1": b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n" + base_with(),
    "bad_incomplete": base_with()[:-2],
    "bad_slowloris": b"GET /chat HTTP/1.1\r\nX-a: " + b"b" * 200,
}

BODY_426 = b"Sec-WebSocket-Version must be 13; this server speaks RFC 6455 only.\n"

RESPONSES = {
    "res_101": head("HTTP/1.1 101 Switching Protocols", [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + ACCEPT,
    ]),
    "res_101_protocol": head("HTTP/1.1 101 Switching Protocols", [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + ACCEPT,
        "Sec-WebSocket-Protocol: chat",
    ]),
    "res_101_no_reason": head("HTTP/1.1 101", [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + ACCEPT,
    ]),
    "res_426": head("HTTP/1.1 426 Upgrade Required", [
        "Content-Type: text/plain; charset=utf-8",
        "Content-Length: %d" % len(BODY_426),
        "Upgrade: websocket",
        "Sec-WebSocket-Version: 13",
        "Connection: close, Upgrade",
    ]) + BODY_426,
    "res_bad_accept": head("HTTP/1.1 101 Switching Protocols", [
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=",
    ]),
    "res_http10": head("HTTP/1.0 101 Switching Protocols", ["Upgrade: websocket"]),
    "res_bad_status": head("HTTP/1.1 1010 Nope", []),
}


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "http")
    os.makedirs(out_dir, exist_ok=True)
    seeds = {**REQUESTS, **BROKEN, **RESPONSES}
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), out_dir))


if __name__ == "__main__":
    main()
