"""tidegate-bench against a real tidegate: every scenario, briefly, and the counts add up.

What a performance engineer relies on: every connection attempt is either ready or failed
for a named reason; every message a sender wrote is either received or reported lost;
messages the server refused are not expected by anyone; the JSON holds the same figures
as the summary and the plot is an SVG a browser shows. Nothing here asserts how fast
anything is. The harness binary is tidegate-bench next to $TIDEGATE_BIN.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import BINARY, Server  # noqa: E402

BENCH = os.environ.get("TIDEGATE_BENCH_BIN") or os.path.join(os.path.dirname(BINARY),
                                                             "tidegate-bench")
PROTOCOL_ARGS = ("--allow-anonymous", "true", "--namespace.bench.join", "anonymous",
                 "--namespace.bench.publish", "anonymous")


def run_bench(scenario, port, *args, timeout=60):
    """Runs one scenario; returns (JSON result, summary text, SVG text)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, plot = os.path.join(tmp, "result.json"), os.path.join(tmp, "result.svg")
        cmd = [BENCH, scenario, "--target", f"127.0.0.1:{port}", "--json", out, "--plot", plot,
               "--progress", "off", *[str(a) for a in args]]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        with open(out) as f:
            result = json.load(f)
        with open(plot) as f:
            svg = f.read()
    return result, proc.stdout, svg


class BenchAgainstEchoServer(unittest.TestCase):
    """The raw adapter against `tidegate --echo true` (any RFC 6455 server would do)."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BENCH, os.X_OK):
            raise unittest.SkipTest(f"no tidegate-bench at {BENCH}")
        cls.server = Server("--echo", "true", "--ping-interval", "0", workers=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_connect_accounts_for_every_attempt(self):
        r, text, svg = run_bench("connect", self.server.ws_port, "--connections", 300,
                                 "--procs", 2, "--threads", 2, "--ramp-per-s", 3000)
        c = r["counters"]
        self.assertEqual(c["conn_started"], 300)
        self.assertEqual(c["conn_ready"] + c["conn_failed"], 300)
        self.assertEqual(c["conn_ready"], 300, text)
        self.assertEqual(r["ready_at_ramp_end"], 300)
        self.assertEqual(r["connect_ms"]["count"], 300)
        self.assertEqual(sum(r["timeline"]["ready"]), 300)
        self.assertIn("300 ready of 300", text)
        self.assertEqual(ET.fromstring(svg).tag, "{http://www.w3.org/2000/svg}svg")

    def test_idle_holds_connections_and_reads_server_memory(self):
        r, text, _ = run_bench("idle", self.server.ws_port, "--connections", 200,
                               "--duration", "1s", "--server-pids", self.server.pid)
        self.assertEqual(r["open_at_run_end"], 200, text)
        self.assertEqual(r["counters"]["conn_lost"], 0)
        mem = r["server_memory"]
        self.assertGreater(mem["rss_before_bytes"], 0)
        self.assertGreater(mem["rss_after_bytes"], 0)
        self.assertIn("server_s", r["cpu"])

    def test_echo_round_trips_add_up(self):
        r, text, svg = run_bench("echo", self.server.ws_port, "--connections", 20, "--rate", 2000,
                                 "--duration", "1s", "--procs", 2, "--threads", 1,
                                 "--message-bytes", 200)
        c = r["counters"]
        self.assertEqual(c["msgs_sent"] + c["msgs_unsent"], 2000)  # the schedule, exactly
        self.assertEqual(c["expected"], c["msgs_sent"])
        self.assertEqual(c["echo_replies"] + c["lost"], c["expected"], text)
        self.assertEqual(c["lost"], 0, text)
        self.assertEqual(c["duplicated"] + c["foreign"] + c["unparsed"], 0)
        self.assertEqual(c["bytes_received"], c["msgs_received"] * 200)
        lat = r["latency_ms"]
        self.assertEqual(lat["count"], c["echo_replies"])
        self.assertTrue(0 < lat["p50"] <= lat["p99"] <= lat["p999"] <= lat["max"])
        self.assertEqual(sum(r["timeline"]["latency_count"]), c["echo_replies"])
        self.assertIn("Latency over time", svg)


class BenchAgainstProtocolServer(unittest.TestCase):
    """The tidegate adapter against the channel protocol (docs/protocol.md)."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BENCH, os.X_OK):
            raise unittest.SkipTest(f"no tidegate-bench at {BENCH}")
        cls.server = Server(*PROTOCOL_ARGS, "--client-messages-per-s", "0", "--ping-interval",
                            "0", workers=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_fanout_delivers_every_message_to_every_subscriber(self):
        r, text, _ = run_bench("fanout", self.server.ws_port, "--adapter", "tidegate",
                               "--channels", 3, "--subscribers", 20, "--publishers", 2,
                               "--rate", 300, "--duration", "1s", "--threads", 2)
        c = r["counters"]
        self.assertEqual(c["conn_ready"], 3 * 22, text)
        self.assertEqual(c["msgs_sent"] + c["msgs_unsent"], 300)
        self.assertEqual(c["acks"], c["msgs_sent"])
        self.assertEqual(c["expected"], c["msgs_sent"] * 20)
        self.assertEqual(c["deliveries"] + c["lost"], c["expected"])
        self.assertEqual(c["lost"], 0, text)
        self.assertEqual(c["duplicated"] + c["reordered"] + c["foreign"] + c["unparsed"], 0)
        self.assertEqual(r["latency_ms"]["count"], c["deliveries"])
        # Each ack carries its publish's id (the payload head): one ack latency per publish.
        self.assertEqual(r["ack_latency_ms"]["count"], c["acks"])
        self.assertGreater(r["ack_latency_ms"]["p50"], 0)
        self.assertLessEqual(r["ack_latency_ms"]["p50"], r["ack_latency_ms"]["max"])
        self.assertGreaterEqual(r["receive_window_s"], 1.0)  # sending lasted 1 s
        self.assertAlmostEqual(r["received_per_s"] * r["receive_window_s"], c["deliveries"],
                               delta=c["deliveries"] * 1e-4)

    def test_echo_through_protocol_pings(self):
        r, text, _ = run_bench("echo", self.server.ws_port, "--adapter", "tidegate",
                               "--connections", 10, "--rate", 500, "--duration", "1s")
        c = r["counters"]
        self.assertEqual(c["echo_replies"], c["msgs_sent"], text)
        self.assertEqual(c["lost"], 0)
        self.assertEqual(c["proto_errors"], 0)

    def test_storm_everyone_comes_back_subscribed(self):
        r, text, _ = run_bench("storm", self.server.ws_port, "--adapter", "tidegate",
                               "--connections", 200, "--channels", 4, "--hold", "300ms")
        c = r["counters"]
        self.assertFalse(r["time_s"]["storm_timed_out"], text)
        self.assertEqual(c["conn_closed"], 200)  # everyone dropped ...
        self.assertEqual(c["conn_ready"], 400)  # ... and joined again
        self.assertEqual(r["latency_ms"]["count"], 200)  # time until back, per connection
        self.assertGreater(r["time_s"]["storm"], 0)

    def test_churn_cycles_come_back(self):
        r, text, _ = run_bench("churn", self.server.ws_port, "--adapter", "tidegate",
                               "--connections", 100, "--channels", 2, "--churn-per-s", 100,
                               "--duration", "1s", "--drain", "5s")
        c = r["counters"]
        self.assertFalse(r["time_s"]["drain_timed_out"], text)
        self.assertGreater(c["churn_cycles"], 50)
        self.assertEqual(c["conn_closed"], c["churn_cycles"])
        self.assertEqual(c["conn_ready"], 100 + c["churn_cycles"])
        self.assertEqual(c["conn_lost"] + c["conn_failed"], 0)


class BenchAgainstRateLimits(unittest.TestCase):
    """Publishes the server refuses (rate_limited) are counted, and expected by no one."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BENCH, os.X_OK):
            raise unittest.SkipTest(f"no tidegate-bench at {BENCH}")
        cls.server = Server(*PROTOCOL_ARGS, "--client-messages-per-s", "20",
                            "--client-messages-burst", "5", "--ping-interval", "0",
                            workers=2).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_refused_publishes_are_not_lost_deliveries(self):
        r, text, _ = run_bench("fanout", self.server.ws_port, "--adapter", "tidegate",
                               "--subscribers", 10, "--publishers", 1, "--rate", 30,
                               "--duration", "1s")
        c = r["counters"]
        self.assertGreater(c["refused"], 0, text)
        self.assertLess(c["refused"], 20, text)  # below the error bucket: no 4004
        self.assertEqual(r["proto_errors"].get("rate_limited"), c["refused"])
        self.assertEqual(c["acks"] + c["refused"], c["msgs_sent"])
        self.assertEqual(r["ack_latency_ms"]["count"], c["acks"])  # refusals are not acks
        self.assertEqual(c["expected"], c["acks"] * 10)
        self.assertEqual(c["deliveries"] + c["lost"], c["expected"])
        self.assertEqual(c["lost"], 0, text)


if __name__ == "__main__":
    unittest.main()
