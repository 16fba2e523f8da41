"""The log as operators read it: every stderr line is logfmt with a UTC timestamp, a level,
a component and a quoted constant message; nothing is logged per message at info level,
so traffic cannot flood the log; debug shows per-connection events."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import RawClient, Server, parse_logfmt  # noqa: E402

LINE = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
                  r'comp=[a-z_]+ msg="[^"]+"( [A-Za-z0-9_.\-]+=("(?:[^"\\]|\\.)*"|\S*))*$')


class TestLogging(unittest.TestCase):
    def exercise(self, server):
        """Traffic, a protocol error and a refused handshake."""
        client = RawClient.connect(server.ws_port)
        for i in range(200):
            client.echo_roundtrip(b"message %d" % i)
        client.close_handshake(1000)
        bad = RawClient.connect(server.ws_port)
        bad.send_frame(0x2, b"unmasked", mask=False)
        bad.expect_close(1002)
        bad.abort()

    def test_every_line_is_logfmt_and_traffic_is_not_logged_at_info(self):
        server = Server("--echo", "true", "--ping-interval", "0").start()
        try:
            ready_lines = len(server.log_lines())
            self.exercise(server)
            during = server.log_lines()[ready_lines:]
            self.assertLess(len(during), 5, "200 messages and two connections must not be "
                            "logged line by line at info:\n" + "\n".join(during))
        finally:
            server.stop()
        lines = server.log_lines()
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, LINE)
            self.assertNotEqual(parse_logfmt(line)["level"], "debug",
                                "debug lines are off at the default log_level = info")

    def test_debug_level_shows_connection_events(self):
        server = Server("--echo", "true", "--ping-interval", "0", "--log-level", "debug").start()
        try:
            before = len(server.log_lines())
            self.exercise(server)
            server.wait_for_log(r"level=debug", start=before)
        finally:
            server.stop()
        for line in server.log_lines():
            self.assertRegex(line, LINE)


if __name__ == "__main__":
    unittest.main()
