"""wss: the gateway terminating TLS itself (docs/tls.md), against real clients.

Certificates are made at test time by tests/unit/tls_certs/make_certs.sh into the class's
temporary directory (an ECDSA test CA, a.test + *.a.test, b.test, a second a.test for the
reload); clients trust only that CA. Covered:

  - echo over wss through Python's websockets, sizes up to 900 KiB, 60 clients over both
    workers, plain ws still served beside it, frames split over TLS records and pipelined
    with the upgrade, the close handshake ending with our close_notify before the FIN;
  - refusals without an HTTP reply, each counted in tidegate_tls_failures_total: plain
    HTTP to the wss port, a client that does not trust us, ALPN without http/1.1, a
    silent connection at handshake_timeout, TLS 1.0/1.1 (openssl s_client);
  - TLS 1.2 and 1.3 accepted with ALPN http/1.1 (s_client), SNI picking the certificate,
    resumption by ticket in both versions (Python sessions and s_client -sess_out/-sess_in);
  - the channel protocol over wss across 2 workers (every message once, in order);
  - SIGHUP: a new certificate for new connections while an open one keeps working, and a
    failed reload that keeps the certificate;
  - the edge before TLS: a PROXY v2 header ahead of the ClientHello, the per-IP limit
    closing a wss connection without a reply; drain: 1001 over wss on SIGTERM;
  - start-up checks: missing files, a key of another certificate, bad items (exit 2).

The Node `ws` client over wss is in test_wss_node.mjs."""

import asyncio
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import Client, ProtocolTestCase, check_message, scenario  # noqa: E402
from tidegate_harness import (SOURCE_DIR, RawClient, ServerTestCase, parse_addr_port,  # noqa: E402
                              parse_http_response_head, parse_logfmt, run_binary,
                              upgrade_request)

MAKE_CERTS = os.path.join(SOURCE_DIR, "tests", "unit", "tls_certs", "make_certs.sh")
TIMEOUT_S = 20
KIB = 1024


def make_certs(directory):
    """Writes the test CA and certificates into `directory` (see make_certs.sh)."""
    subprocess.run(["sh", MAKE_CERTS, directory], check=True, capture_output=True, timeout=120)
    return directory


def pem_der(path):
    """The DER of the first certificate in a PEM file."""
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def wss_port_of(server):
    for line in server.log_lines():
        fields = parse_logfmt(line)
        if fields.get("msg") == "listening" and fields.get("kind") == "wss":
            return parse_addr_port(fields["addr"])
    raise AssertionError(f"no `listening kind=wss` line\n{server.stderr_tail()}")


def client_context(ca=None, version=None, alpn=None):
    """A client TLS context trusting only `ca` (none: trusting nothing), pinned to `version`
    ("1.2" or "1.3") when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is not None:
        ctx.load_verify_locations(ca)
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx, host="a.test", session=None, ragged_eofs=True, prefix=b""):
    """A TLS socket to the wss port, handshake done. `prefix` is sent in clear first (a PROXY
    header)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    try:
        if prefix:
            sock.sendall(prefix)
        return ctx.wrap_socket(sock, server_hostname=host, session=session,
                               suppress_ragged_eofs=ragged_eofs)
    except BaseException:
        sock.close()
        raise


def wss_raw(port, ctx, host="a.test", first_bytes=b"", **kw):
    """A RawClient over TLS with the upgrade done; `first_bytes` go in the same write."""
    tls = tls_connect(port, ctx, host, **kw)
    client = RawClient(tls)
    request, _ = upgrade_request(host=host)
    tls.sendall(request + first_bytes)
    head = client._read_until(b"\r\n\r\n", time.monotonic() + TIMEOUT_S)
    status = parse_http_response_head(head)[0]
    if status != 101:
        tls.close()
        raise AssertionError(f"upgrade over wss answered {status}")
    return client


def expect_closed_silently(sock, timeout=TIMEOUT_S):
    """Asserts the server closes `sock` (a plain TCP socket) without sending a byte."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        data = b""
    if data:
        raise AssertionError(f"expected a close without reply, got {data[:60]!r}")


class TlsServerCase(ServerTestCase):
    """A gateway with wss on: tls_certs a.test (default) and b.test, plus `extra_args`."""

    extra_args = ()

    @classmethod
    def cert(cls, name):
        return os.path.join(cls.certs, name)

    @classmethod
    def tls_args(cls):
        pairs = ",".join(f"{cls.cert(n + '.pem')}:{cls.cert(n + '.key')}" for n in ("a", "b"))
        return ("--tls-listen", "127.0.0.1:0", "--tls-certs", pairs)

    @classmethod
    def server_options(cls):
        cls.certs = make_certs(os.path.join(cls.tmp_dir, "certs"))
        cls.ca = cls.cert("ca.pem")
        return cls.tls_args() + tuple(cls.extra_args)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wss_port = wss_port_of(cls.server)

    def failures(self, reason):
        return self.server.metrics().value("tidegate_tls_failures_total", reason=reason)

    def wait_failure(self, reason, count):
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_tls_failures_total", reason=reason) == count,
            f"tidegate_tls_failures_total{{reason={reason}}} == {count}")

    def ws_connect(self, host="a.test", ctx=None, **kw):
        return websockets.connect(f"wss://127.0.0.1:{self.wss_port}/", server_hostname=host,
                                  ssl=ctx or client_context(self.ca), compression=None,
                                  ping_interval=None, open_timeout=TIMEOUT_S,
                                  close_timeout=TIMEOUT_S, max_size=1 << 20, **kw)


class TestWssEcho(TlsServerCase):
    extra_args = ("--echo", "true", "--handshake-timeout", "1500ms")

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 120))

    def test_messages_of_every_size_come_back_over_wss(self):
        async def scenario_():
            async with self.ws_connect() as ws:
                for size in (0, 1, 125, 126, 16 * KIB, 65536, 300 * KIB, 900 * KIB):
                    text = "κ" * (size // 2) + "x" * (size % 2)
                    await ws.send(text)
                    self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), text)
                    data = os.urandom(size)
                    await ws.send(data)
                    self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), data)
                pong = await ws.ping(b"over tls")
                await asyncio.wait_for(pong, TIMEOUT_S)
                await ws.close(4321, "done")
                self.assertEqual(ws.close_code, 4321)
        self.run_async(scenario_())

    def test_sixty_clients_over_both_workers(self):
        before = self.server.metrics()

        async def one(i):
            async with self.ws_connect() as ws:
                for k in range(3):
                    await ws.send(f"client {i} message {k}")
                    self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S),
                                     f"client {i} message {k}")

        async def all_():
            await asyncio.gather(*(one(i) for i in range(60)))
        self.run_async(all_())
        m = self.server.metrics()
        for w in ("0", "1"):
            grown = (m.value("tidegate_tls_handshakes_total", worker=w) -
                     before.value("tidegate_tls_handshakes_total", worker=w))
            self.assertGreater(grown, 0, f"worker {w} did no TLS handshake")
        self.assertEqual(m.value("tidegate_tls_handshakes_total") -
                         before.value("tidegate_tls_handshakes_total"), 60)

    def test_plain_ws_is_still_served_beside_wss(self):
        client = self.connect()
        client.echo_roundtrip(b"plain beside tls")
        client.close_handshake(1000)

    def test_frames_split_over_records_and_pipelined_with_the_upgrade(self):
        from tidegate_harness import OP_TEXT, build_frame
        first = build_frame(OP_TEXT, b"pipelined")
        client = wss_raw(self.wss_port, client_context(self.ca), first_bytes=first)
        self.addCleanup(client.abort)
        self.assertEqual(client.recv_message().data, b"pipelined")
        # one byte per TLS record: the frame reader sees the frame in 20 pieces
        client.send_text(b"split over 20 records", chop=1)
        self.assertEqual(client.recv_message().data, b"split over 20 records")
        big = os.urandom(40 * KIB)  # spans three records of 16 KiB
        client.send_binary(big)
        self.assertEqual(client.recv_message().data, big)

    def test_the_close_handshake_ends_with_close_notify_before_the_fin(self):
        # Without suppressed ragged EOFs, a FIN without close_notify raises SSLEOFError:
        # the read returning b"" is the proof that close_notify came first.
        client = wss_raw(self.wss_port, client_context(self.ca), ragged_eofs=False)
        self.addCleanup(client.abort)
        client.echo_roundtrip(b"before closing")
        client.close_handshake(1000, b"bye")

    def test_a_refused_upgrade_is_answered_over_tls_then_close_notify(self):
        # ragged EOFs raise: reading to a clean b"" proves close_notify came before the FIN
        with tls_connect(self.wss_port, client_context(self.ca), ragged_eofs=False) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")  # no Upgrade
            reply = b""
            while chunk := t.recv(4096):
                reply += chunk
        self.assertTrue(reply.startswith(b"HTTP/1.1 426 "), reply[:80])

    def test_plain_http_to_the_wss_port_gets_no_reply(self):
        before = self.failures("tls_protocol")
        with socket.create_connection(("127.0.0.1", self.wss_port), timeout=TIMEOUT_S) as s:
            request, _ = upgrade_request()
            s.sendall(request)
            expect_closed_silently(s)
        self.wait_failure("tls_protocol", before + 1)

    def test_a_client_that_does_not_trust_the_certificate_is_counted(self):
        def closed(m):
            return m.value("tidegate_connections_closed_total", reason="tls_failed")
        before = self.server.metrics()
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_connect(self.wss_port, client_context(ca=None, version="1.2")).close()
        self.wait_failure("tls_peer_alert",
                          before.value("tidegate_tls_failures_total", reason="tls_peer_alert") + 1)
        # TLS 1.3: wolfSSL 5.5.4 reads OpenSSL's encrypted alert as a bad record header
        # (-306) and counts tls_protocol; what holds in both versions is the failure itself
        with self.assertRaises(ssl.SSLCertVerificationError):
            tls_connect(self.wss_port, client_context(ca=None, version="1.3")).close()
        self.server.wait_for_metric(lambda m: closed(m) == closed(before) + 2,
                                    "both refusals closed as TLS failures")

    def test_alpn_without_http11_is_refused(self):
        before = self.failures("tls_alpn")
        with self.assertRaises(ssl.SSLError):
            tls_connect(self.wss_port, client_context(self.ca, alpn=["h2"])).close()
        self.wait_failure("tls_alpn", before + 1)

    def test_alpn_http11_is_chosen(self):
        with tls_connect(self.wss_port, client_context(self.ca, alpn=["h2", "http/1.1"])) as t:
            self.assertEqual(t.selected_alpn_protocol(), "http/1.1")

    def test_a_silent_connection_is_closed_at_handshake_timeout(self):
        before = self.failures("timeout")
        with socket.create_connection(("127.0.0.1", self.wss_port), timeout=TIMEOUT_S) as s:
            t0 = time.monotonic()
            expect_closed_silently(s)
            self.assertGreater(time.monotonic() - t0, 1.0)
        self.wait_failure("timeout", before + 1)
        self.assertEqual(self.server.metrics().value("tidegate_tls_sessions_open"), 0,
                         "a connection that never sent a byte holds no TLS session")

    def test_sni_picks_the_certificate(self):
        cases = [("a.test", "a.pem"), ("b.test", "b.pem"), ("x.a.test", "a.pem"),
                 ("B.TEST", "b.pem"), (None, "a.pem"), ("unknown.test", "a.pem")]
        for host, pem in cases:
            with self.subTest(host=host):
                ctx = client_context(self.ca)
                if host in (None, "unknown.test"):
                    ctx.check_hostname = False  # the default certificate names neither
                with tls_connect(self.wss_port, ctx, host=host) as t:
                    self.assertEqual(t.getpeercert(binary_form=True), pem_der(self.cert(pem)))

    def test_sessions_resume_by_ticket_in_tls_12_and_13(self):
        for version in ("1.2", "1.3"):
            with self.subTest(version=version):
                before = self.server.metrics().value(
                    "tidegate_tls_handshakes_total", version=version, resumed="true")
                ctx = client_context(self.ca, version=version)
                # a whole upgrade: in TLS 1.3 the ticket comes after the handshake
                first = wss_raw(self.wss_port, ctx)
                first.echo_roundtrip()
                session = first.sock.session
                self.assertFalse(first.sock.session_reused)
                first.close_handshake()
                first.sock.close()
                second = wss_raw(self.wss_port, ctx, session=session)
                self.addCleanup(second.abort)
                self.assertTrue(second.sock.session_reused, f"TLS {version} not resumed")
                second.echo_roundtrip(b"resumed")
                self.server.wait_for_metric(
                    lambda m: m.value("tidegate_tls_handshakes_total", version=version,
                                      resumed="true") == before + 1,
                    f"a resumed TLS {version} handshake counted")


def s_client(port, *args, stdin=b"", linger_s=0.0, timeout=TIMEOUT_S):
    """Runs `openssl s_client` against the wss port, writing `stdin` and closing it
    `linger_s` later (s_client quits at its end); returns stdout and stderr together."""
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        p.stdin.write(stdin)
        p.stdin.flush()
        time.sleep(linger_s)
        out, _ = p.communicate(timeout=timeout)
    except BaseException:
        p.kill()
        p.communicate()
        raise
    return out.decode(errors="replace")


@unittest.skipUnless(shutil.which("openssl"), "needs openssl (Debian package openssl)")
class TestOpenSslClient(TlsServerCase):
    extra_args = ("--echo", "true")

    def test_tls_10_and_11_are_refused(self):
        before = self.failures("tls_version")
        for flag in ("-tls1", "-tls1_1"):
            with self.subTest(flag=flag):
                out = s_client(self.wss_port, flag, "-cipher", "DEFAULT@SECLEVEL=0",
                               "-servername", "a.test", "-CAfile", self.ca)
                self.assertIn("alert protocol version", out)
                self.assertIn("Cipher is (NONE)", out)
        self.wait_failure("tls_version", before + 2)

    def test_tls_12_and_13_are_accepted_with_alpn_http11(self):
        for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(flag=flag):
                out = s_client(self.wss_port, flag, "-alpn", "http/1.1", "-servername",
                               "b.test", "-CAfile", self.ca, "-verify_return_error")
                self.assertIn(f"New, {version}, Cipher is", out)
                self.assertIn("ALPN protocol: http/1.1", out)
                self.assertIn("subject=CN = b.test", out)
                self.assertIn("Verify return code: 0 (ok)", out)

    def test_sess_out_and_sess_in_resume(self):
        for flag in ("-tls1_2", "-tls1_3"):
            with self.subTest(flag=flag):
                path = os.path.join(self.tmp_dir, f"session{flag}.pem")
                request, _ = upgrade_request(host="a.test")
                # s_client stays a second: long enough to read the 101 and a TLS 1.3 ticket
                s_client(self.wss_port, flag, "-servername", "a.test", "-CAfile", self.ca,
                         "-sess_out", path, stdin=request, linger_s=1.0)
                out = s_client(self.wss_port, flag, "-servername", "a.test", "-CAfile",
                               self.ca, "-sess_in", path)
                self.assertRegex(out, r"Reused, TLSv1\.[23]")


@unittest.skipUnless(shutil.which("openssl"), "needs openssl (Debian package openssl)")
class TestMinimumVersion13(TlsServerCase):
    extra_args = ("--echo", "true", "--tls-min-version", "1.3")

    def test_tls_12_is_refused_and_13_accepted(self):
        out = s_client(self.wss_port, "-tls1_2", "-servername", "a.test", "-CAfile", self.ca)
        self.assertIn("Cipher is (NONE)", out)
        out = s_client(self.wss_port, "-tls1_3", "-servername", "a.test", "-CAfile", self.ca)
        self.assertIn("New, TLSv1.3, Cipher is", out)
        self.wait_failure("tls_version", 1)


class TestChannelsOverWss(ProtocolTestCase):
    """The channel protocol over wss, on 2 workers: subscribers on both, publishers over
    wss; every message arrives once, in offset order, at every subscriber."""

    server_args = ("--client-messages-per-s", "0", "--namespace.room.join=authenticated",
                   "--namespace.room.publish=authenticated")
    SUBSCRIBERS = 24
    PER_PUBLISHER = 60

    @classmethod
    def server_options(cls):
        cls.certs = make_certs(os.path.join(cls.tmp_dir, "certs"))
        pair = f"{cls.certs}/a.pem:{cls.certs}/a.key"
        return super().server_options() + ("--tls-listen", "127.0.0.1:0", "--tls-certs", pair)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wss_port = wss_port_of(cls.server)

    async def open(self, token=None, path="/", label="client"):
        uri = f"wss://127.0.0.1:{self.wss_port}{path}"
        if token is not None:
            uri += "?token=" + token
        ws = await websockets.connect(uri, ssl=client_context(f"{self.certs}/ca.pem"),
                                      server_hostname="a.test", compression=None,
                                      ping_interval=None, open_timeout=TIMEOUT_S)
        c = Client(ws, label)
        self._clients.append(c)
        return c

    @scenario(timeout_s=90)
    async def test_every_subscriber_gets_every_message_once_in_order(self):
        before = await asyncio.to_thread(self.server.metrics)
        subscribers = []
        for i in range(self.SUBSCRIBERS):
            c = await self.user(f"sub-{i}", in_url=(i % 2 == 0), label=f"subscriber {i}")
            subscribers.append((c, await c.join("room:wss")))
        publishers = [await self.user(f"pub-{p}", label=f"publisher {p}") for p in range(2)]
        acks = {}
        for p, c in enumerate(publishers):
            for k in range(self.PER_PUBLISHER):
                ack = await c.publish("room:wss", {"p": p, "k": k, "pad": "y" * (k * 37)})
                acks[ack["offset"]] = (p, k)
        for c, joined in subscribers:
            offsets = []
            for _ in range(len(acks)):
                m = await c.next_of("message", channel="room:wss", timeout=TIMEOUT_S)
                check_message(m, "room:wss", joined["epoch"])
                self.assertEqual(acks[m["offset"]], (m["data"]["p"], m["data"]["k"]))
                offsets.append(m["offset"])
            self.assertEqual(offsets, sorted(acks), f"{c.label}: every message once, in order")
        m = await asyncio.to_thread(self.server.metrics)
        for w in ("0", "1"):
            self.assertGreater(m.value("tidegate_tls_handshakes_total", worker=w) -
                               before.value("tidegate_tls_handshakes_total", worker=w), 0,
                               f"worker {w} served no wss client")


class TestReload(TlsServerCase):
    """SIGHUP reads the certificate files again; the files here are copies the test swaps."""

    extra_args = ("--echo", "true")

    @classmethod
    def tls_args(cls):
        for suffix in ("pem", "key"):
            shutil.copy(cls.cert(f"a.{suffix}"), cls.cert(f"live.{suffix}"))
        pair = f"{cls.cert('live.pem')}:{cls.cert('live.key')}"
        return ("--tls-listen", "127.0.0.1:0", "--tls-certs", pair)

    def peer_der(self):
        with tls_connect(self.wss_port, client_context(self.ca)) as t:
            return t.getpeercert(binary_form=True)

    def reload(self, expect):
        start = len(self.server.log_lines())
        os.kill(self.server.pid, signal.SIGHUP)
        self.server.wait_for_log(expect, start=start)

    def test_new_connections_get_the_new_certificate_and_open_ones_keep_working(self):
        async def scenario_():
            async with self.ws_connect() as ws:
                await ws.send("before the reload")
                self.assertEqual(await ws.recv(), "before the reload")
                self.assertEqual(await asyncio.to_thread(self.peer_der),
                                 pem_der(self.cert("a.pem")))
                for suffix in ("pem", "key"):
                    shutil.copy(self.cert(f"a2.{suffix}"), self.cert(f"live.{suffix}"))
                await asyncio.to_thread(self.reload, 'msg="certificates reloaded"')
                self.assertEqual(await asyncio.to_thread(self.peer_der),
                                 pem_der(self.cert("a2.pem")))
                await ws.send("after the reload")
                self.assertEqual(await ws.recv(), "after the reload")
                # a broken key: the reload fails and the certificate stays
                with open(self.cert("live.key"), "w") as f:
                    f.write("not a key\n")
                await asyncio.to_thread(self.reload, 'msg="certificate reload failed')
                self.assertEqual(await asyncio.to_thread(self.peer_der),
                                 pem_der(self.cert("a2.pem")))
                await ws.send("after the failed reload")
                self.assertEqual(await ws.recv(), "after the failed reload")
        asyncio.run(asyncio.wait_for(scenario_(), 60))
        m = self.server.metrics()
        self.assertEqual(m.value("tidegate_tls_reloads_total", result="ok"), 1)
        self.assertEqual(m.value("tidegate_tls_reloads_total", result="error"), 1)


def proxy_v2_header(src_ip, src_port, dst_ip, dst_port):
    body = socket.inet_aton(src_ip) + socket.inet_aton(dst_ip) + struct.pack("!HH", src_port,
                                                                            dst_port)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


class TestEdgeBeforeTls(TlsServerCase):
    extra_args = ("--echo", "true", "--log-level", "debug", "--proxy-protocol", "optional",
                  "--proxy-trusted", "127.0.0.1", "--max-connections-per-ip", "1")

    def test_a_proxy_header_before_the_client_hello_names_the_client(self):
        header = proxy_v2_header("10.1.2.3", 40000, "127.0.0.1", self.wss_port)
        start = len(self.server.log_lines())
        with tls_connect(self.wss_port, client_context(self.ca), prefix=header) as t:
            client = RawClient(t)
            request, _ = upgrade_request(host="a.test")
            t.sendall(request)
            client._read_until(b"\r\n\r\n", time.monotonic() + TIMEOUT_S)
            client.echo_roundtrip(b"through a balancer")
            self.server.wait_for_log(r'msg="TLS handshake done".*client=10\.1\.2\.3:40000',
                                     start=start)
            client.close_handshake()

    def test_the_per_ip_limit_closes_a_wss_connection_without_a_reply(self):
        with tls_connect(self.wss_port, client_context(self.ca)):
            # its ClientHello ends the wait for a PROXY header (optional mode): the limit
            # refuses it there, before any TLS work, and closes without a byte
            with self.assertRaises(OSError):  # ssl.SSLError, reset or EOF
                tls_connect(self.wss_port, client_context(self.ca)).close()
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_ip_limit_refusals_total") >= 1,
            "the second connection refused by the per-IP limit")
        self.assertEqual(self.failures("tls_protocol"), 0)


class TestDrainOverWss(TlsServerCase):
    extra_args = ("--echo", "true", "--drain-window", "1s")

    def test_sigterm_sends_1001_to_wss_clients_and_exits_0(self):
        async def scenario_():
            clients = [await self.ws_connect() for _ in range(4)]
            for ws in clients:
                await ws.send("hello")
                self.assertEqual(await ws.recv(), "hello")
            stop = asyncio.create_task(asyncio.to_thread(self.server.stop))
            for ws in clients:
                with self.assertRaises(websockets.exceptions.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), TIMEOUT_S)
                self.assertEqual(ws.close_code, 1001)
            self.assertEqual(await stop, 0)
        asyncio.run(asyncio.wait_for(scenario_(), 60))

    def tearDown(self):
        pass  # the test stops the server itself


class TestStartupChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="tidegate-wss-")
        make_certs(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def refused(self, *args):
        r = run_binary("--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        return r.stderr

    def test_a_missing_certificate_file_is_named(self):
        missing = self.path("nowhere.pem")
        err = self.refused("--tls-certs", f"{missing}:{self.path('a.key')}")
        self.assertIn(f"{missing}: cannot read", err)
        self.assertIn("tls_certs", err)

    def test_a_key_of_another_certificate_is_refused(self):
        err = self.refused("--tls-certs", f"{self.path('a.pem')}:{self.path('b.key')}")
        self.assertIn("does not match the certificate", err)
        self.assertIn(self.path("b.key"), err)

    def test_items_must_be_cert_colon_key(self):
        err = self.refused("--tls-certs", self.path("a.pem"))
        self.assertIn("expected cert.pem:key.pem", err)

    def test_wss_needs_a_port_of_its_own(self):
        err = self.refused("--listen", "127.0.0.1:18443", "--tls-listen", "127.0.0.1:18443",
                           "--tls-certs", f"{self.path('a.pem')}:{self.path('a.key')}")
        self.assertIn("same port 18443", err)

    def test_check_config_reads_the_files(self):
        conf = self.path("tidegate.conf")
        with open(conf, "w") as f:
            f.write(f"tls_certs = {self.path('a.pem')}:{self.path('rsa2.key')}\n")
        r = run_binary("--check-config", conf)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("does not match the certificate", r.stderr)
        with open(conf, "w") as f:
            f.write(f"tls_certs = {self.path('rsa.pem')}:{self.path('rsa.key')}\n"
                    "tls_min_version = 1.3\n")
        r = run_binary("--check-config", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("tls_min_version = 1.3", r.stdout)

    def test_tls_min_version_takes_12_or_13(self):
        err = self.refused("--tls-min-version", "1.1")
        self.assertIn("1.2, 1.3", err)


if __name__ == "__main__":
    unittest.main()
