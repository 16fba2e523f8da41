"""The admin listener as load balancers and Prometheus use it: /healthz and /readyz for
health checks, /metrics in Prometheus text format 0.0.4 with per-worker series, and 404
for anything else. The counters must move with the traffic they count, and refused
handshakes must be counted under their reason."""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import (OP_BINARY, Message, ServerTestCase,  # noqa: E402
                              http_exchange, parse_metrics, upgrade_request)

REQUIRED = {
    "tidegate_connections_open": "gauge",
    "tidegate_connections_accepted_total": "counter",
    "tidegate_connections_closed_total": "counter",
    "tidegate_handshake_failures_total": "counter",
    "tidegate_frames_received_total": "counter",
    "tidegate_frames_sent_total": "counter",
    "tidegate_bytes_received_total": "counter",
    "tidegate_bytes_sent_total": "counter",
}


class TestAdmin(ServerTestCase):
    server_args = ("--echo", "true", "--ping-interval", "0", "--handshake-timeout", "1s",
                   "--allowed-origins", "https://app.example.com")

    def test_healthz_answers_ok(self):
        status, headers, body = self.server.admin_get("/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body.strip(), "ok")

    def test_readyz_answers_200_while_serving(self):
        status, headers, body = self.server.admin_get("/readyz")
        self.assertEqual(status, 200, body)

    def test_unknown_path_is_404(self):
        for path in ("/", "/nope", "/metricsx", "/healthz/extra"):
            status, headers, body = self.server.admin_get(path)
            self.assertEqual(status, 404, f"GET {path}")

    def test_metrics_is_valid_prometheus_text(self):
        status, headers, body = self.server.admin_get("/metrics")
        self.assertEqual(status, 200)
        content_type = headers.get("content-type", "")
        self.assertTrue(content_type.startswith("text/plain"), content_type)
        self.assertIn("version=0.0.4", content_type.replace(" ", ""))
        metrics = parse_metrics(body)   # every line: HELP/TYPE first, numeric values, ...
        for name, type_ in metrics.types.items():
            if type_ == "counter":
                self.assertTrue(name.endswith("_total"), f"counter {name} must end in _total")
        for name, type_ in REQUIRED.items():
            self.assertEqual(metrics.types.get(name), type_, f"{name} must be a {type_}")
            self.assertTrue(metrics.helps.get(name), f"{name} needs a HELP text")
            self.assertEqual(metrics.label_values(name, "worker"),
                             {str(w) for w in range(self.workers)},
                             f"{name} must have a series for each worker")
        for sample in metrics.samples:
            if metrics.types.get(sample.name) == "counter":
                self.assertGreaterEqual(sample.value, 0, sample)
        for name in ("tidegate_connections_closed_total", "tidegate_handshake_failures_total"):
            for sample in metrics.series(name):
                self.assertIn("reason", sample.labels, f"{name} samples carry a reason")

    def test_counters_move_with_traffic(self):
        before = self.server.metrics()
        client = self.connect()
        for i in range(10):
            client.send_binary(b"z" * 1000)
            self.assertEqual(client.recv_message(), Message(OP_BINARY, b"z" * 1000))
        during = self.server.metrics()
        self.assertGreaterEqual(during.value("tidegate_connections_open") -
                                before.value("tidegate_connections_open"), 1)
        client.close_handshake(1000)

        def moved(m):
            return (m.value("tidegate_connections_accepted_total") -
                    before.value("tidegate_connections_accepted_total") >= 1 and
                    m.value("tidegate_frames_received_total") -
                    before.value("tidegate_frames_received_total") >= 11 and
                    m.value("tidegate_frames_sent_total") -
                    before.value("tidegate_frames_sent_total") >= 11 and
                    m.value("tidegate_bytes_received_total") -
                    before.value("tidegate_bytes_received_total") >= 10 * 1000 and
                    m.value("tidegate_bytes_sent_total") -
                    before.value("tidegate_bytes_sent_total") >= 10 * 1000 and
                    m.value("tidegate_connections_closed_total") -
                    before.value("tidegate_connections_closed_total") >= 1 and
                    m.value("tidegate_connections_open") <=
                    before.value("tidegate_connections_open"))
        self.server.wait_for_metric(moved, "accepted +1, frames +11 each way, bytes +10000 "
                                    "each way, closed +1 and the open gauge back down")

    def test_counters_never_go_backwards(self):
        first = self.server.metrics()
        client = self.connect()
        client.echo_roundtrip()
        client.close_handshake(1000)
        second = self.server.metrics()
        for sample in first.samples:
            if first.types.get(sample.name) == "counter":
                later = second.series(sample.name, **sample.labels)
                self.assertEqual(len(later), 1, f"series {sample} disappeared")
                self.assertGreaterEqual(later[0].value, sample.value, sample)

    def test_close_reasons_tell_a_clean_close_from_a_protocol_error(self):
        def by_reason(m):
            return _sum_by_label(m, "tidegate_connections_closed_total", "reason")

        before = by_reason(self.server.metrics())
        clean = self.connect()
        clean.close_handshake(1000)
        after_clean = by_reason(self.server.wait_for_metric(
            lambda m: sum(by_reason(m).values()) > sum(before.values()), "a closed connection"))
        bad = self.connect()
        bad.send_frame(OP_BINARY, b"unmasked", mask=False)
        bad.expect_close(1002)
        after_bad = by_reason(self.server.wait_for_metric(
            lambda m: sum(by_reason(m).values()) > sum(after_clean.values()),
            "a second closed connection"))
        clean_reasons = {r for r in after_clean if after_clean[r] > before.get(r, 0)}
        bad_reasons = {r for r in after_bad if after_bad[r] > after_clean.get(r, 0)}
        self.assertEqual(len(clean_reasons), 1, clean_reasons)
        self.assertEqual(len(bad_reasons), 1, bad_reasons)
        self.assertNotEqual(clean_reasons, bad_reasons,
                            "a clean close and a 1002 must be counted under different reasons")

    def test_handshake_failures_are_counted_by_reason(self):
        before = _sum_by_label(self.server.metrics(), "tidegate_handshake_failures_total",
                               "reason")
        port = self.server.ws_port
        good, _ = upgrade_request()
        requests = {
            "bad_key": [upgrade_request(headers=[("Sec-WebSocket-Key", None),
                                                 ("Sec-WebSocket-Key", "short")])[0]] * 3,
            "version": [upgrade_request(version="8")[0]] * 2,
            "origin": [upgrade_request(headers=[("Origin", "https://evil.example")])[0]] * 4,
            "method": [good.replace(b"GET ", b"PUT ", 1)],
        }
        expected_status = {"bad_key": 400, "version": 426, "origin": 403, "method": 405}
        for kind, reqs in requests.items():
            for req in reqs:
                response = http_exchange(port, req)
                self.assertEqual(response.status, expected_status[kind], kind)
        # timeout: connect, say nothing, wait for the 408 (handshake_timeout is 1s here)
        silent = socket.create_connection(("127.0.0.1", port), timeout=15)
        started = time.monotonic()
        data = b""
        while True:
            chunk = silent.recv(4096)
            if not chunk:
                break
            data += chunk
        silent.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:100])
        self.assertLess(time.monotonic() - started, 15)
        counts = {"bad_key": 3, "version": 2, "origin": 4, "method": 1, "timeout": 1}

        def delta(m):
            now = _sum_by_label(m, "tidegate_handshake_failures_total", "reason")
            return {r: now[r] - before.get(r, 0) for r in now if now[r] != before.get(r, 0)}

        after = self.server.wait_for_metric(
            lambda m: sum(delta(m).values()) >= sum(counts.values()),
            f"{sum(counts.values())} more handshake failures")
        moved = delta(after)
        # one reason label per kind of failure, named after it (e.g. bad_key, timeout;
        # "version" may read bad_ws_version), moved by exactly the number of failures
        for kind, count in counts.items():
            matching = {r: n for r, n in moved.items() if kind in r}
            self.assertEqual(len(matching), 1, f"expected one reason containing {kind!r} to "
                             f"move, moved: {moved}")
            self.assertEqual(list(matching.values())[0], count, f"{kind}: {moved}")
        self.assertEqual(sum(moved.values()), sum(counts.values()), moved)


def _sum_by_label(metrics, name, label):
    sums = {}
    for s in metrics.series(name):
        sums[s.labels.get(label)] = sums.get(s.labels.get(label), 0) + s.value
    return sums


if __name__ == "__main__":
    unittest.main()
