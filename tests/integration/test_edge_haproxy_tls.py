"""wss behind a real HAProxy (Debian's haproxy package) doing TLS pass-through: HAProxy in TCP
mode relays the client's TLS bytes untouched to tidegate's wss listener (tls_listen) and puts
a PROXY v2 header (send-proxy-v2) in front of them; tidegate reads the header, applies the
per-IP limits to the address it names, then terminates TLS itself (docs/edge.md, docs/tls.md).

The clients are Python `websockets` over wss, trusting only the test CA, connecting to
HAProxy from 127.0.0.2 and 127.0.0.3 while HAProxy always connects from 127.0.0.1. With
max_connections_per_ip = 1 a second client from 127.0.0.2 is refused (before its TLS
handshake, so without a reply) while 127.0.0.3 is served: tidegate counts the real client
addresses, not the balancer's. The HAProxy harness is test_edge_haproxy.py's, the
certificates and TLS helpers test_wss.py's."""

import asyncio
import os
import shutil
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tidegate_harness import Server, upgrade_request  # noqa: E402
from test_edge_haproxy import HAProxy, closed_without_reply  # noqa: E402
from test_wss import client_context, make_certs, proxy_v2_header, wss_port_of  # noqa: E402

TIMEOUT_S = 10


class TestWssBehindHAProxyPassThrough(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tidegate-haproxy-tls-")
        cls.certs = make_certs(os.path.join(cls.dir, "certs"))
        cls.ca = os.path.join(cls.certs, "ca.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        pair = f"{self.certs}/a.pem:{self.certs}/a.key"
        self.server = Server("--echo", "true", "--ping-interval", "0", "--drain-window", "0",
                             "--log-level", "debug", "--tls-listen", "127.0.0.1:0",
                             "--tls-certs", pair, "--proxy-protocol", "required",
                             "--proxy-trusted", "127.0.0.1/32",
                             "--max-connections-per-ip", "1").start()
        self.addCleanup(self.server.stop)
        self.wss_port = wss_port_of(self.server)
        self.haproxy = HAProxy(self.wss_port, "send-proxy-v2").start()
        self.addCleanup(self.haproxy.stop)

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 60))

    def connect(self, source):
        """A websockets client over wss to HAProxy from `source`; verifies tidegate's a.test
        certificate against the test CA (so the TLS really ends at tidegate)."""
        ctx = client_context(self.ca, alpn=["http/1.1"])
        return websockets.connect(f"wss://127.0.0.1:{self.haproxy.port}/",
                                  server_hostname="a.test", ssl=ctx, compression=None,
                                  ping_interval=None, open_timeout=TIMEOUT_S,
                                  close_timeout=TIMEOUT_S, local_addr=(source, 0))

    async def echo(self, ws, text):
        await ws.send(text)
        self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), text)

    def test_the_per_ip_limit_counts_the_real_client_behind_tls_pass_through(self):
        async def scenario():
            first = await self.connect("127.0.0.2")
            alpn = first.transport.get_extra_info("ssl_object").selected_alpn_protocol()
            self.assertEqual(alpn, "http/1.1")
            await self.echo(first, "from 127.0.0.2 through haproxy")
            # the same client address again: refused before TLS, so the handshake fails
            with self.assertRaises(OSError):  # ssl.SSLError, reset or EOF
                await (await self.connect("127.0.0.2")).close()
            third = await self.connect("127.0.0.3")  # another client: its own count
            await self.echo(third, "from 127.0.0.3 through haproxy")

            m = self.server.wait_for_metric(
                lambda m: m.value("tidegate_ip_limit_refusals_total",
                                  reason="too_many_connections") == 1,
                "one refusal for too many connections")
            self.assertEqual(m.value("tidegate_ip_limit_tracked_addresses"), 2,
                             "127.0.0.2 and 127.0.0.3 are tracked, HAProxy's 127.0.0.1 is not")
            self.assertEqual(m.value("tidegate_proxy_headers_total", version=2), 3)
            self.assertEqual(m.value("tidegate_proxy_failures_total"), 0, m.text)
            self.assertEqual(m.value("tidegate_tls_handshakes_total"), 2,
                             "the refused connection cost no handshake")
            self.assertEqual(m.value("tidegate_tls_failures_total"), 0, m.text)
            for source in ("127.0.0.2", "127.0.0.3"):
                self.server.wait_for_log(r'msg="TLS handshake done".*client=' +
                                         source.replace(".", r"\.") + ":")

            # the count goes back when the first client leaves: 127.0.0.2 may connect again
            await first.close()
            self.server.wait_for_metric(
                lambda m: m.value("tidegate_connections_open") == 1, "the first client gone")
            again = await self.connect("127.0.0.2")
            await self.echo(again, "127.0.0.2 again")
            await again.close()
            await third.close()
        self.run_async(scenario())

    def test_a_client_reaching_the_wss_port_directly_cannot_claim_an_address(self):
        # required mode: a peer outside proxy_trusted is closed at accept, nothing read
        request, _ = upgrade_request()
        forged = proxy_v2_header("10.9.9.9", 1234, "127.0.0.1", self.wss_port) + request
        self.assertEqual(closed_without_reply(self.wss_port, forged, source="127.0.0.5"), b"")
        m = self.server.wait_for_metric(
            lambda m: m.value("tidegate_proxy_failures_total", reason="untrusted") == 1,
            "one untrusted peer refused")
        self.assertEqual(m.value("tidegate_proxy_headers_total"), 0)

        async def through_the_balancer():
            async with self.connect("127.0.0.5") as ws:
                await self.echo(ws, "from 127.0.0.5 through haproxy")
        self.run_async(through_the_balancer())


if __name__ == "__main__":
    unittest.main()
