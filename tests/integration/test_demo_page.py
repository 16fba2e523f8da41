"""The demo page as HTTP (docs/demo.md): with `demo_page = true` a plain GET of / or /demo on
the public listeners gets the page compiled into the binary, byte for byte the file in
gateway/demo/, with the headers that keep it safe (Content-Security-Policy allowing only its
own inline style and script, by hash, and connections to its own origin; no-store; nosniff;
Connection: close), and counted as a `demo_page` close. Everything else that is not an
upgrade is refused as before, the WebSocket upgrade on the same paths still works, and with
the option off (the default) nothing changes. The page is also served over wss's listener.
What the page does in a browser is test_demo_browser.mjs."""

import base64
import hashlib
import os
import re
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_PING, SOURCE_DIR, Pong,  # noqa: E402
                              ServerTestCase, _parse_http_bytes, http_exchange, parse_addr_port,
                              parse_logfmt, run_binary)

PAGE_PATH = os.path.join(SOURCE_DIR, "gateway", "demo", "index.html")
MAKE_CERTS = os.path.join(SOURCE_DIR, "tests", "unit", "tls_certs", "make_certs.sh")
DEMO_ARGS = ("--demo-page", "--allow-anonymous", "--namespace.demo.join", "anonymous",
             "--namespace.demo.publish", "anonymous")


def get(path, method="GET", extra=""):
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def csp_hash(data):
    return "'sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode() + "'"


def inline(page, tag):
    """The text of the page's only <tag> element."""
    found = re.findall(rb"<" + tag + rb">(.*?)</" + tag + rb">", page, re.S)
    assert len(found) == 1, f"{len(found)} <{tag}> elements"
    return found[0]


class DemoPageServed(ServerTestCase):
    server_args = DEMO_ARGS

    def page(self):
        with open(PAGE_PATH, "rb") as f:
            return f.read()

    def assert_page(self, res):
        self.assertIsNotNone(res, "closed without an answer")
        self.assertEqual(res.status, 200, res.body[:200])
        page = self.page()
        self.assertEqual(res.body, page)
        self.assertEqual(res.header("content-length"), str(len(page)))
        self.assertEqual(res.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(res.header("cache-control"), "no-store")
        self.assertEqual(res.header("connection"), "close")
        self.assertEqual(res.header("x-content-type-options"), "nosniff")
        self.assertTrue(res.closed, "the connection must close after the page")

    def test_get_slash_and_demo_get_the_page(self):
        for path in ("/", "/demo", "/?room=lobby", "/demo?x=1"):
            with self.subTest(path=path):
                self.assert_page(http_exchange(self.server.ws_port, get(path)))

    def test_the_csp_allows_only_the_pages_own_style_script_and_origin(self):
        res = http_exchange(self.server.ws_port, get("/"))
        page = self.page()
        directives = {}
        for part in res.header("content-security-policy").split(";"):
            name, _, value = part.strip().partition(" ")
            directives[name] = value
        self.assertEqual(directives["default-src"], "'none'")
        self.assertEqual(directives["script-src"], csp_hash(inline(page, b"script")))
        self.assertEqual(directives["style-src"], csp_hash(inline(page, b"style")))
        self.assertEqual(directives["connect-src"], "'self'")
        self.assertEqual(directives["frame-ancestors"], "'none'")
        self.assertEqual(directives["form-action"], "'none'")
        self.assertEqual(directives["base-uri"], "'none'")
        self.assertFalse(b"innerHTML" in page, "user data must never be parsed as HTML")

    def test_page_sent_whole_even_to_a_client_that_pipelines_more(self):
        res = http_exchange(self.server.ws_port, get("/") + get("/demo") + b"garbage")
        self.assert_page(res)

    def test_other_requests_that_are_not_upgrades_are_refused_as_before(self):
        cases = [
            (get("/favicon.ico"), 426), (get("/demo/"), 426), (get("/Demo"), 426),
            (get("/index.html"), 426), (get("/", method="POST", extra="Content-Length: 0\r\n"), 405),
            (get("/", method="HEAD"), 405), (get("/", extra="Upgrade: h2c\r\n"), 426),
        ]
        for request, status in cases:
            with self.subTest(request=request):
                res = http_exchange(self.server.ws_port, request)
                self.assertIsNotNone(res)
                self.assertEqual(res.status, status, res.body)
                self.assertNotEqual(res.body, self.page())

    def test_websocket_upgrade_on_the_same_paths_still_works(self):
        for path in ("/", "/demo"):
            with self.subTest(path=path):
                client = self.connect(path=path)
                client.send_frame(OP_PING, b"still a gateway")
                self.assertEqual(client.next_event(), Pong(b"still a gateway"))

    def test_pages_served_are_counted_as_demo_page_closes(self):
        name = "tidegate_connections_closed_total"
        # The earlier tests' connections are counted when the server closes them, which may
        # be after their client is done: start from a server with none open.
        m = self.server.wait_for_metric(lambda m: m.value("tidegate_connections_open") == 0,
                                        "no connection open")
        before = m.value(name, reason="demo_page")
        for _ in range(3):
            self.assert_page(http_exchange(self.server.ws_port, get("/")))
        self.server.wait_for_metric(lambda m: m.value(name, reason="demo_page") == before + 3,
                                    "three more demo_page closes")


class DemoPageOff(ServerTestCase):
    """The default: GET / is refused with 426 as it always was."""

    def test_get_slash_is_refused_with_426(self):
        for path in ("/", "/demo"):
            with self.subTest(path=path):
                res = http_exchange(self.server.ws_port, get(path))
                self.assertEqual(res.status, 426)
                self.assertEqual(res.header("upgrade"), "websocket")


class DemoPageOverTls(ServerTestCase):
    """The wss listener serves the page too, so a browser on https gets it (and then
    connects with wss to the same place)."""

    @classmethod
    def server_options(cls):
        subprocess.run(["sh", MAKE_CERTS, cls.tmp_dir], check=True, capture_output=True,
                       timeout=120)
        pair = f"{cls.tmp_dir}/a.pem:{cls.tmp_dir}/a.key"
        return DEMO_ARGS + ("--tls-listen", "127.0.0.1:0", "--tls-certs", pair)

    def wss_port(self):
        for line in self.server.log_lines():
            fields = parse_logfmt(line)
            if fields.get("msg") == "listening" and fields.get("kind") == "wss":
                return parse_addr_port(fields["addr"])
        raise AssertionError("no `listening kind=wss` line")

    def test_page_over_tls(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.tmp_dir, "ca.pem"))
        with socket.create_connection(("127.0.0.1", self.wss_port()), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="a.test") as tls:
                tls.sendall("GET /demo HTTP/1.1\r\nHost: a.test\r\n\r\n".encode())
                data = bytearray()
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        res = _parse_http_bytes(bytes(data), True)
        self.assertEqual(res.status, 200)
        with open(PAGE_PATH, "rb") as f:
            self.assertEqual(res.body, f.read())


class DemoPageOptions(unittest.TestCase):
    def test_demo_page_with_echo_is_refused_at_start(self):
        result = run_binary("--check-config", os.devnull, "--demo-page", "--echo")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("demo_page needs the client protocol", result.stderr)

    def test_help_documents_the_option(self):
        result = run_binary("--help")
        self.assertIn("--demo-page", result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
