"""The gateway keeping user status in a real Redis (docs/storage.md "Redis: gateway
integration", issue 6).

A throwaway redis-server (tests/pylib/tidegate_redis.py) runs under a gateway of 2 workers
with JWT, the server API, user_max_connections = 2 and user_status_ttl = 3 s (heartbeat 1 s).

- GET /api/users/{id}/status follows a user's connections across both workers: online
  with 1, then 2 connections, offline with last_seen_ms once both closed; an unknown user
  is offline with last_seen_ms null; ids are percent-decoded. Anonymous connections are not
  counted.
- The limit: a third connection of a user gets `disconnect` 4007 too_many_user_connections
  (reconnect false) and close 4007, by connect and with the token in the URL; the refusal
  leaves nothing counted, and once one closes a new one is allowed.
- Redis killed: new connections connect at once (allowed unchecked, over the limit too) and
  messaging works; the status API answers 503 storage_unavailable. Redis restarted empty:
  every worker re-registers and rewrites its users, the status is right again, and the user
  now over the limit is refused.
- Redis hung (SIGSTOP): a connect waits at most about the command timeout (1 s) and is let
  in unchecked; a connection closed while its check waited is never counted.
- Redis absent from the start: connections (over the limit too) connect at once, the status
  is 503, the stop is quick. Redis hung at the stop: the exit waits at most about 1 s.
- /metrics has the tidegate_redis_* families per worker; without redis_url the endpoint
  answers 409 user_status_disabled and no tidegate_redis_* family is rendered;
  --check-config hides redis_url and refuses a host name with a sentence."""

import asyncio
import http.client
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import ALL_CAPS, Client, ProtocolTestCase, scenario  # noqa: E402
from tidegate_harness import Server, parse_logfmt, run_binary  # noqa: E402
from tidegate_redis import RedisServer, free_port  # noqa: E402
from tidegate_tokens import jwt_keys_arg, make_token, write_secret  # noqa: E402

KEY = "redis-test-api-key-0123456789-abcdefghijk"
LIMIT = 2
_serial = itertools.count(1)


def fresh(prefix):
    return f"{prefix}-{os.getpid()}-{next(_serial)}"


def now_ms():
    return int(time.time() * 1000)


def api_port(server):
    for line in server.log_lines():
        fields = parse_logfmt(line)
        if fields.get("msg") == "listening" and fields.get("kind") == "api":
            return int(fields["addr"].rsplit(":", 1)[1])
    raise AssertionError("no `listening kind=api` line in the log\n" + server.stderr_tail())


def get_status(port, user):
    """GET /api/users/{user}/status: (HTTP status, JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/users/" + urllib.parse.quote(user, safe="") + "/status",
                     headers={"X-Api-Key": KEY})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


class RedisGatewayTest(ProtocolTestCase):
    redis = None
    workers = 2

    @classmethod
    def server_options(cls):
        cls.redis = RedisServer().start()
        return super().server_options() + (
            "--redis-url", cls.redis.url, "--user-max-connections", str(LIMIT),
            "--user-status-ttl", "3s", "--allow-anonymous",
            "--api-listen", "127.0.0.1:0", "--api-keys", KEY)

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except BaseException:
            if cls.redis is not None:
                cls.redis.destroy()
            raise
        cls.api = api_port(cls.server)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.redis.destroy()

    def status(self, user):
        return get_status(self.api, user)

    async def wait_status(self, user, pred, what, timeout_s=10.0):
        deadline = time.monotonic() + timeout_s
        while True:
            code, body = self.status(user)
            if pred(code, body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{user}: the status never showed {what} within "
                                     f"{timeout_s:.0f} s; last answer {code} {body}")
            await asyncio.sleep(0.05)

    async def wait_connections(self, user, count, timeout_s=10.0):
        return await self.wait_status(
            user, lambda code, b: code == 200 and b["connections"] == count
            and b["online"] == (count > 0), f"{count} connections", timeout_s)

    async def refused(self, user, in_url, holding=LIMIT):
        token = make_token(user)
        if in_url:
            c = await self.open(token=token, label="over the limit (URL)")
        else:
            c = await self.open(label="over the limit")
            await c.send_request("connect", 1, token=token)
        m = await c.expect_disconnect(4007, "too_many_user_connections", reconnect=False)
        self.assertIn(f"already has {holding} connections; at most {LIMIT}", m["message"])
        self.assertIn("user_max_connections", m["message"])

    @scenario()
    async def test_status_follows_connections_across_workers(self):
        user = fresh("ana é/ü")                     # percent-encoded in the path
        self.assertEqual(self.status(user), (200, {"user_id": user, "online": False,
                                                   "connections": 0, "last_seen_ms": None}))
        a = await self.user(user, label="a")
        body = await self.wait_connections(user, 1)
        self.assertEqual(body["user_id"], user)
        self.assertLess(abs(body["last_seen_ms"] - now_ms()), 5000, body)
        clients = [a]
        while len({c.connected["client_id"][:2] for c in clients}) < 2:   # both workers
            if len(clients) == LIMIT:
                await clients.pop().close()
                await self.wait_connections(user, 1)
            clients.append(await self.user(user, label="b"))
            if len(clients) > 10:
                self.fail("every connection landed on one worker")
        await self.wait_connections(user, 2)
        before = now_ms()
        for c in clients:
            await c.close()
        body = await self.wait_connections(user, 0)
        self.assertGreaterEqual(body["last_seen_ms"], before - 1000, body)
        self.assertLessEqual(body["last_seen_ms"], now_ms() + 1000, body)

    @scenario()
    async def test_anonymous_connections_are_not_counted(self):
        before = self.server.metrics().value("tidegate_redis_user_connects_total")
        anon = await self.anonymous()
        await anon.ping()
        user = fresh("eve")
        await self.user(user)
        m = self.server.wait_for_metric(
            lambda m: m.value("tidegate_redis_user_connects_total") >= before + 1,
            "the user's connect counted")
        self.assertEqual(m.value("tidegate_redis_user_connects_total"), before + 1)

    @scenario()
    async def test_the_per_user_limit_refuses_with_4007(self):
        user = fresh("bo")
        a = await self.user(user, label="a")
        await self.user(user, label="b")
        await self.refused(user, in_url=False)
        await self.refused(user, in_url=True)
        await self.wait_connections(user, 2)        # the refusals left nothing counted
        await a.close()
        await self.wait_connections(user, 1)
        await self.user(user, label="c")            # under the limit again
        await self.wait_connections(user, 2)
        m = self.server.metrics()
        self.assertGreaterEqual(m.value("tidegate_redis_user_limit_refused_total"), 2)
        self.assertGreaterEqual(m.value("tidegate_connections_closed_total",
                                        reason="too_many_user_connections"), 2)

    @scenario(timeout_s=45)
    async def test_redis_killed_connections_and_messages_go_on_then_status_heals(self):
        user = fresh("cy")
        first = await self.user(user, caps=ALL_CAPS, label="first")
        await self.wait_connections(user, 1)
        self.redis.kill()
        try:
            await self.wait_status(user, lambda code, b: code == 503
                                   and b["error"] == "storage_unavailable"
                                   and "Redis" in b["message"], "503 storage_unavailable")
            others = []
            for i in range(3):                       # over the limit: nobody can check it
                t0 = time.monotonic()
                others.append(await self.user(user, caps=ALL_CAPS, label=f"outage {i}"))
                self.assertLess(time.monotonic() - t0, 1.0, "a connect waited for Redis")
            channel = fresh("room")
            await first.join(channel)
            ack = await others[0].publish(channel, {"n": 1})
            m = await first.next_of("message", channel=channel)
            self.assertEqual((m["data"], m["offset"]), ({"n": 1}, ack["offset"]))
            code, body = self.status(user)
            self.assertEqual((code, body["error"]), (503, "storage_unavailable"))
            m = self.server.metrics()
            self.assertGreaterEqual(m.value("tidegate_redis_user_unchecked_total"), 3)
            self.assertGreaterEqual(m.value("tidegate_redis_user_gets_refused_total"), 2)
            self.assertTrue(all(s.value != 2 for s in m.series("tidegate_redis_connection_state")),
                            m.series("tidegate_redis_connection_state"))
        finally:
            self.redis.restart()                     # empty: nothing was persisted
        await self.wait_connections(user, 4, timeout_s=20)
        await self.refused(user, in_url=False, holding=4)  # counts are right again
        for c in [first] + others:
            await c.close()
        await self.wait_connections(user, 0)
        m = self.server.metrics()
        self.assertGreaterEqual(m.value("tidegate_redis_user_resyncs_total"), 2 * self.workers)

    @scenario(timeout_s=45)
    async def test_hung_redis_holds_a_connect_at_most_the_timeout(self):
        user = fresh("di")
        self.redis.proc.send_signal(signal.SIGSTOP)
        try:
            gone = await self.open(label="closes while checked")
            await gone.send_request("connect", 1, token=make_token(user))
            await asyncio.sleep(0.2)
            await gone.close()
            t0 = time.monotonic()
            await self.user(user, label="waits")
            waited = time.monotonic() - t0
            self.assertLess(waited, 3.0, "a connect waited longer than the command timeout")
        finally:
            self.redis.proc.send_signal(signal.SIGCONT)
        await self.wait_connections(user, 1, timeout_s=20)   # the closed one never counted
        await asyncio.sleep(1.5)                              # a heartbeat later: still 1
        await self.wait_connections(user, 1, timeout_s=1)

    def test_metrics_per_worker(self):
        m = self.server.wait_for_metric(
            lambda m: len([s for s in m.series("tidegate_redis_connection_state")
                           if s.value == 2]) == self.workers, "both workers' links up",
            timeout=20)
        for family in ("tidegate_redis_connects_total", "tidegate_redis_operations_total",
                       "tidegate_redis_pending", "tidegate_redis_user_heartbeats_total",
                       "tidegate_redis_users", "tidegate_redis_user_connections"):
            self.assertEqual(m.label_values(family, "worker"), {"0", "1"}, family)
        self.assertEqual(m.label_values("tidegate_redis_errors_total", "kind"),
                         {"error_reply", "timeout", "unavailable", "refused_down",
                          "refused_full"})
        self.assertGreater(m.value("tidegate_redis_operations_total"), 0)
        self.assertGreater(m.value("tidegate_redis_latency_seconds_count"), 0)


class RedisAwayAtStartAndStopTest(unittest.TestCase):
    """Redis absent from the start, or hung when the gateway stops: nothing waits for it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tidegate-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.keys = jwt_keys_arg(write_secret(self.tmp))

    def gateway(self, url):
        return Server("--jwt-keys", self.keys, "--redis-url", url, "--user-max-connections",
                      "1", "--drain-window", "0", "--api-listen", "127.0.0.1:0",
                      "--api-keys", KEY).start()

    async def connect_twice(self, server, user):
        clients = []
        for i in range(2):                       # the limit is 1: unchecked, both let in
            t0 = time.monotonic()
            c = await Client.open(server.ws_port, label=f"{user} {i}")
            clients.append(c)
            await c.connect(make_token(user))
            self.assertLess(time.monotonic() - t0, 1.5, "a connect waited for Redis")
            await c.ping()
        return clients

    def timed_stop(self, server):
        t0 = time.monotonic()
        server.stop()
        return time.monotonic() - t0

    def test_no_redis_at_all(self):
        server = self.gateway(f"redis://127.0.0.1:{free_port()}")
        try:
            clients = asyncio.run(self.connect_twice(server, fresh("fay")))
            code, body = get_status(api_port(server), "fay")
            self.assertEqual((code, body["error"]), (503, "storage_unavailable"))
            m = server.metrics()
            self.assertGreaterEqual(m.value("tidegate_redis_user_unchecked_total"), 2)
            self.assertGreaterEqual(m.value("tidegate_redis_connect_failures_total"), 1)
            self.assertEqual(len(clients), 2)
            self.assertLess(self.timed_stop(server), 3.0)
        finally:
            server.stop()

    def test_hung_redis_does_not_hold_the_stop(self):
        redis = RedisServer().start()
        self.addCleanup(redis.destroy)
        server = self.gateway(redis.url)
        try:
            server.wait_for_metric(
                lambda m: len([s for s in m.series("tidegate_redis_connection_state")
                               if s.value == 2]) == server.workers, "both links up")

            async def connect_and_hang():
                c = await Client.open(server.ws_port, label="gus")
                await c.connect(make_token(fresh("gus")))
                redis.proc.send_signal(signal.SIGSTOP)
                return c

            asyncio.run(connect_and_hang())
            self.assertLess(self.timed_stop(server), 3.0)   # the leave waits 1 s at most
        finally:
            if redis.proc is not None:
                redis.proc.send_signal(signal.SIGCONT)
            server.stop()


class RedisOffTest(unittest.TestCase):
    def test_without_redis_url_the_endpoint_is_409_and_no_metrics(self):
        with Server("--api-listen", "127.0.0.1:0", "--api-keys", KEY, workers=1) as server:
            code, body = get_status(api_port(server), "anyone")
            self.assertEqual((code, body["error"]), (409, "user_status_disabled"))
            self.assertIn("redis_url", body["message"])
            self.assertFalse([n for n in server.metrics().types if n.startswith("tidegate_redis")])

    def test_check_config_hides_the_url_and_refuses_host_names(self):
        result = run_binary("--check-config", "/dev/null",
                            "--redis-url", "redis://:hunter2@127.0.0.1:6390/2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn('redis_url = "***"', result.stdout)
        self.assertNotIn("hunter2", result.stdout + result.stderr)
        result = run_binary("--check-config", "/dev/null", "--redis-url", "redis://localhost")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("bad redis_url", result.stderr)
        result = run_binary("--check-config", "/dev/null", "--user-max-connections", "3")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("redis_url is not set", result.stderr)


if __name__ == "__main__":
    unittest.main()
