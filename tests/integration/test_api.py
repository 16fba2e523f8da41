"""The server API (docs/api.md): application backends publishing, broadcasting, disconnecting
users and reading presence, history, channels and the node's info over HTTP/1.1 with an API
key, while WebSocket clients (docs/protocol.md) receive what the API did.

Every response is checked against section 3: Content-Type application/json, Cache-Control
no-store, a body of one JSON object and a newline; every error against section 4: exactly
{"error", "message"} with the code of the status.

The gateway under test runs 2 workers, keys KEY and OLD_KEY (rotation), api_max_body_bytes
4k, max_publish_bytes 1k, and namespaces:
  chat    presence on, authenticated join and publish
  nohist  history_size 0
plus `default` (presence off)."""

import asyncio
import http.client
import itertools
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import (EPOCH_RE, ProtocolTestCase, assert_recent_ms,  # noqa: E402
                             check_disconnect, check_message, compact, scenario)
from tidegate_harness import Server, http_exchange, parse_logfmt  # noqa: E402

KEY = "test-api-key-0123456789-abcdefghijklmnop"
OLD_KEY = "old-api-key-9876543210-zyxwvutsrqponmlkj"
MAX_BODY = 4096
MAX_PUBLISH = 1024
_serial = itertools.count(1)


def fresh(prefix="chat"):
    return f"{prefix}:api-{os.getpid()}-{next(_serial)}"


def api_port(server):
    """The port of the `listening kind=api` log line."""
    for line in server.log_lines():
        fields = parse_logfmt(line)
        if fields.get("msg") == "listening" and fields.get("kind") == "api":
            return int(fields["addr"].rsplit(":", 1)[1])
    raise AssertionError("no `listening kind=api` line in the log\n" + server.stderr_tail())


class Reply:
    """One API response, checked against docs/api.md section 3."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers          # {lower-case name: value}
        self.raw = raw
        if headers.get("content-type") != "application/json":
            raise AssertionError(f"Content-Type {headers.get('content-type')!r}: {raw[:200]!r}")
        if headers.get("cache-control") != "no-store":
            raise AssertionError(f"Cache-Control {headers.get('cache-control')!r}")
        if not raw.endswith(b"\n") or raw.count(b"\n") != 1:
            raise AssertionError(f"the body must be one JSON object and a newline: {raw!r}")
        self.body = json.loads(raw, object_pairs_hook=_no_duplicates)
        if not isinstance(self.body, dict):
            raise AssertionError(f"the body is not an object: {raw!r}")
        if status >= 400:
            if set(self.body) != {"error", "message"} or not self.body["message"]:
                raise AssertionError(f"an error body is exactly error and message: {raw!r}")

    def __repr__(self):
        return f"Reply({self.status}, {self.raw[:300]!r})"


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise AssertionError(f"duplicate keys {keys}")
    return dict(pairs)


class Api:
    """A backend: keep-alive HTTP connections to the API."""

    def __init__(self, port, key=KEY):
        self.port = port
        self.key = key
        self.conn = None

    def connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, key=None):
        """Sends one request on the kept connection; returns a checked Reply. `body` is a
        dict (sent as JSON), str or bytes (sent as they are)."""
        hdrs = {"X-Api-Key": key or self.key}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
            if isinstance(body, dict):
                body = compact(body)
            if isinstance(body, str):
                body = body.encode("utf-8")
        hdrs.update(headers or {})
        conn = self.connection()
        conn.request(method, path, body=body, headers=hdrs)
        res = conn.getresponse()
        raw = res.read()
        headers = {k.lower(): v for k, v in res.getheaders()}
        if res.will_close:
            self.close()
        return Reply(res.status, headers, raw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    async def apost(self, path, body, **kw):
        return await asyncio.to_thread(self.post, path, body, **kw)

    async def aget(self, path, **kw):
        return await asyncio.to_thread(self.get, path, **kw)


def split_responses(data):
    """Splits raw bytes into [(status, {lower-case header: value}, body)], bodies framed by
    Content-Length (none for 100 Continue). A response not complete yet is left out."""
    out = []
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return out
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, v in (line.split(":", 1) for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        if len(rest) < n:
            return out
        out.append((int(lines[0].split(" ")[1]), headers, rest[:n]))
        data = rest[n:]


def recv_responses(sock, count):
    """Reads until `count` whole responses arrived on `sock`."""
    data = b""
    while len(split_responses(data)) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the server closed after {data!r}")
        data += chunk
    return split_responses(data)


def raw_exchange(port, request, **kw):
    """One raw request on a new connection, read until the server closes it."""
    res = http_exchange(port, request, **kw)
    if res is None:
        raise AssertionError("the server closed without answering")
    return res, Reply(res.status, dict(res.headers), res.body)


class ApiTestCase(ProtocolTestCase):
    server_args = ("--api-listen", "127.0.0.1:0", "--api-keys", f"{KEY},{OLD_KEY}",
                   "--api-max-body-bytes", str(MAX_BODY),
                   "--max-publish-bytes", str(MAX_PUBLISH), "--client-messages-per-s", "0",
                   "--allow-anonymous",
                   "--namespace.chat.presence=on", "--namespace.chat.join=authenticated",
                   "--namespace.chat.publish=authenticated",
                   "--namespace.nohist.history_size=0", "--namespace.nohist.join=anonymous")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.port = api_port(cls.server)

    def setUp(self):
        super().setUp()
        self.api = Api(self.port)
        self.addCleanup(self.api.close)

    def assert_error(self, reply, status, code, words=None):
        if reply.status != status or reply.body.get("error") != code:
            raise AssertionError(f"expected {status} {code}, got {reply!r}")
        if words is not None and words not in reply.body["message"]:
            raise AssertionError(f"message {reply.body['message']!r} should say {words!r}")
        return reply

    async def users_on_both_workers(self, sub, count_max=40):
        """One connection of user `sub` on each worker (the client id names its worker):
        opens connections until both have one and closes the extra ones. Returns
        {"w0": client, "w1": client}."""
        found = {}
        for _ in range(count_max):
            c = await self.user(sub)
            worker = c.connected["client_id"].split("-")[0]
            if worker in found:
                await c.close()
                continue
            found[worker] = c
            if len(found) == 2:
                return found
        raise AssertionError(f"{count_max} connections all landed on {sorted(found)}")


class TestPublish(ApiTestCase):
    @scenario()
    async def test_publish_reaches_subscribers_on_both_workers(self):
        name = fresh()
        subs = await self.users_on_both_workers("alice")
        self.assertEqual(sorted(subs), ["w0", "w1"])
        for c in subs.values():
            await c.join(name)
        raw = '{"channel":%s,"data": {"notice" : "deploy at 5", "n": [1, 2.50]} ,' \
              '"user_id":"ops"}' % compact(name)
        r = await self.api.apost("/api/publish", raw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.body), ["channel", "offset", "epoch", "timestamp"])
        self.assertEqual((r.body["channel"], r.body["offset"]), (name, 1))
        self.assertRegex(r.body["epoch"], EPOCH_RE)
        assert_recent_ms(r.body["timestamp"])
        for worker, c in subs.items():
            m = await c.next_of("message", name)
            check_message(m, name, r.body["epoch"], offset=1, user_id="ops")
            self.assertEqual(m["timestamp"], r.body["timestamp"])
            self.assertIn('"data":{"notice" : "deploy at 5", "n": [1, 2.50]}}', m.raw,
                          f"data is forwarded byte for byte ({worker})")

    @scenario()
    async def test_publish_without_user_id_and_to_a_channel_nobody_joined(self):
        name = fresh()
        alice = await self.user("alice")
        await alice.join(name)
        r = await self.api.apost("/api/publish", {"channel": name, "data": "hi"})
        self.assertEqual(r.status, 200, r)
        m = await alice.next_of("message", name)
        self.assertIsNone(m["user_id"])
        self.assertEqual(m["data"], "hi")
        # a channel nobody joined still gets offsets and keeps history
        lonely = fresh()
        for n in (1, 2):
            r = await self.api.apost("/api/publish", {"channel": lonely, "data": n})
            self.assertEqual((r.status, r.body["offset"]), (200, n), r)
        h = await self.api.aget(f"/api/history?channel={lonely}")
        self.assertEqual([m["data"] for m in h.body["messages"]], [1, 2])

    @scenario()
    async def test_publish_errors(self):
        alice = await self.user("alice")
        name = fresh()
        await alice.join(name)
        cases = [
            ("{", 400, "bad_request", "invalid JSON"),
            ("[]", 400, "bad_request", "one JSON object"),
            ({"channel": name}, 400, "bad_request", "\"data\" is required"),
            ({"channel": name, "data": 1, "extra": 2}, 400, "bad_request", "unknown field"),
            ({"channel": name, "data": 1, "user_id": 7}, 400, "bad_request", "user_id"),
            ({"channel": "chat:a b", "data": 1}, 400, "channel_name_invalid", "' ' at byte 6"),
            ({"channel": "nowhere:a", "data": 1}, 400, "unknown_namespace", "nowhere"),
            ({"channel": name, "data": "x" * MAX_PUBLISH}, 400, "message_too_large",
             f"at most {MAX_PUBLISH}"),
        ]
        for body, status, code, words in cases:
            self.assert_error(await self.api.apost("/api/publish", body), status, code, words)
        # nothing of that reached the subscriber
        r = await self.api.apost("/api/publish", {"channel": name, "data": "marker"})
        m = await alice.next_of("message", name)
        self.assertEqual((m["offset"], m["data"]), (1, "marker"))
        self.assertEqual(r.body["offset"], 1)

    @scenario()
    async def test_an_old_key_still_works_during_rotation(self):
        r = await self.api.apost("/api/publish", {"channel": fresh(), "data": 1}, key=OLD_KEY)
        self.assertEqual(r.status, 200, r)
        r = await self.api.aget("/api/info",
                                headers={"Authorization": f"Bearer {KEY}", "X-Api-Key": "no"})
        self.assertEqual(r.status, 200, r)


class TestConcurrentPublishers(ApiTestCase):
    @scenario(timeout_s=60)
    async def test_publishers_on_many_connections_get_distinct_offsets_in_order(self):
        name = fresh()
        subs = await self.users_on_both_workers("grace")
        for c in subs.values():
            await c.join(name)
        threads, each = 6, 50

        def publisher(t):
            api = Api(self.port)
            try:
                return [api.post("/api/publish", {"channel": name, "data": [t, i]}).body
                        for i in range(each)]
            finally:
                api.close()

        results = await asyncio.gather(*(asyncio.to_thread(publisher, t)
                                         for t in range(threads)))
        offsets = sorted(r["offset"] for rs in results for r in rs)
        self.assertEqual(offsets, list(range(1, threads * each + 1)))
        for rs in results:  # one connection's publishes are numbered in its order
            self.assertEqual([r["offset"] for r in rs], sorted(r["offset"] for r in rs))
        for c in subs.values():
            got = [await c.next_of("message", name) for _ in range(threads * each)]
            self.assertEqual([m["offset"] for m in got], offsets)


class TestBroadcast(ApiTestCase):
    @scenario()
    async def test_broadcast_publishes_to_every_channel_in_order(self):
        names = [fresh() for _ in range(6)]
        alice = await self.user("alice")
        for n in names:
            await alice.join(n)
        await self.api.apost("/api/publish", {"channel": names[2], "data": "first"})
        r = await self.api.apost("/api/broadcast",
                                 {"channels": names, "data": {"kind": "invite"},
                                  "user_id": "carol"})
        self.assertEqual(r.status, 200, r)
        results = r.body["results"]
        self.assertEqual([x["channel"] for x in results], names)
        self.assertEqual([x["offset"] for x in results], [1, 1, 2, 1, 1, 1])
        for x in results:
            self.assertEqual(list(x), ["channel", "offset", "epoch", "timestamp"])
        got = {}
        for _ in range(7):
            m = await alice.next_of("message")
            got.setdefault(m["channel"], []).append(m)
        for x in results:
            m = got[x["channel"]][-1]
            check_message(m, x["channel"], x["epoch"], offset=x["offset"], user_id="carol")
            self.assertEqual(m["data"], {"kind": "invite"})

    @scenario()
    async def test_an_invalid_broadcast_publishes_nothing(self):
        a, b = fresh(), fresh()
        alice = await self.user("alice")
        await alice.join(a)
        for body, code, words in [
                ({"channels": [a, b, a], "data": 1}, "bad_request", "listed twice"),
                ({"channels": [a, "chat:#"], "data": 1}, "channel_name_invalid", "channels[1]"),
                ({"channels": [a, "zz:b"], "data": 1}, "unknown_namespace", "zz"),
                ({"channels": [], "data": 1}, "bad_request", "at least one"),
                ({"channels": [a] + [f"c{i}" for i in range(1000)], "data": 1}, "bad_request",
                 "more than 1000")]:
            r = await self.api.apost("/api/broadcast", body)
            if words == "more than 1000":
                self.assert_error(r, 413, "body_too_large")   # 1001 names are over 4k
            else:
                self.assert_error(r, 400, code, words)
        r = await self.api.apost("/api/publish", {"channel": a, "data": "marker"})
        m = await alice.next_of("message", a)
        self.assertEqual((m["offset"], m["data"]), (1, "marker"))


class TestDisconnect(ApiTestCase):
    @scenario()
    async def test_disconnect_a_user_everywhere_with_4003(self):
        mallory = await self.users_on_both_workers("mallory")
        bob = await self.user("bob")
        r = await self.api.apost("/api/disconnect",
                                 {"user_id": "mallory", "message": "account suspended"})
        self.assertEqual((r.status, r.body), (200, {"disconnected": 2}), r)
        for c in mallory.values():
            m = await c.expect_disconnect(4003, "kicked", reconnect=False)
            self.assertEqual(m["message"], "account suspended")
        await bob.ping()
        r = await self.api.apost("/api/disconnect", {"user_id": "mallory"})
        self.assertEqual(r.body, {"disconnected": 0})

    @scenario()
    async def test_reconnect_true_closes_with_4006_and_a_default_notice(self):
        carol = await self.user("carol")
        name = fresh()
        await carol.join(name)
        r = await self.api.apost("/api/disconnect", {"user_id": "carol", "reconnect": True})
        self.assertEqual(r.body, {"disconnected": 1})
        m = await carol.expect_disconnect(4006, "reconnect_requested", reconnect=True,
                                          first=False)  # after its own user_online
        self.assertTrue(m["message"])
        # its subscription ended with it
        p = await self.api.aget(f"/api/presence?channel={name}")
        self.assertEqual(p.body["count"], 0, p)

    @scenario()
    async def test_disconnect_one_connection_by_client_id(self):
        dave = await self.users_on_both_workers("dave")
        anon = await self.anonymous()
        for c in list(dave.values()) + [anon]:
            r = await self.api.apost("/api/disconnect",
                                     {"client_id": c.connected["client_id"]})
            self.assertEqual(r.body, {"disconnected": 1}, r)
            check_disconnect(await c.next(), 4003, "kicked", False)
        for cid in ("w0-ffffffff", "w9-00000001", "nonsense", "w0-1"):
            r = await self.api.apost("/api/disconnect", {"client_id": cid})
            self.assertEqual(r.body, {"disconnected": 0}, cid)

    @scenario()
    async def test_disconnect_needs_exactly_one_target(self):
        for body in ({}, {"user_id": "a", "client_id": "w0-00000001"}, {"reconnect": True}):
            self.assert_error(await self.api.apost("/api/disconnect", body), 400, "bad_request",
                              "exactly one")
        self.assert_error(await self.api.apost("/api/disconnect",
                                               {"user_id": "a", "message": "x" * 201}),
                          400, "bad_request", "200 bytes")


class TestPresenceHistory(ApiTestCase):
    @scenario()
    async def test_presence_lists_members_without_type_or_id(self):
        name = fresh()
        for sub in ("bob", "alice", "alice"):
            c = await self.user(sub)
            await c.join(name)
        r = await self.api.aget(f"/api/presence?channel={name.replace(':', '%3A')}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.body), ["channel", "count", "members", "truncated"])
        self.assertEqual((r.body["channel"], r.body["count"], r.body["truncated"]),
                         (name, 2, False))
        self.assertEqual([(m["user_id"], m["connections"]) for m in r.body["members"]],
                         [("alice", 2), ("bob", 1)])
        for m in r.body["members"]:
            assert_recent_ms(m["joined_at"])
        r = await self.api.aget(f"/api/presence?channel={fresh()}")
        self.assertEqual((r.body["count"], r.body["members"]), (0, []))

    @scenario()
    async def test_presence_errors(self):
        self.assert_error(await self.api.aget("/api/presence?channel=lobby"), 409,
                          "presence_disabled", "default")
        self.assert_error(await self.api.aget("/api/presence"), 400, "bad_request", "required")
        self.assert_error(await self.api.aget("/api/presence?channel=a&channel=b"), 400,
                          "bad_request", "twice")
        self.assert_error(await self.api.aget("/api/presence?channel=chat:a&x=1"), 400,
                          "bad_request", "unknown parameter")
        self.assert_error(await self.api.aget("/api/presence?channel=chat:a+b"), 400,
                          "channel_name_invalid")
        self.assert_error(await self.api.aget("/api/presence?channel=no:a"), 400,
                          "unknown_namespace")

    @scenario()
    async def test_history_pages_forward_and_backward(self):
        name = fresh()
        acks = [await self.api.apost("/api/publish", {"channel": name, "data": {"n": i}})
                for i in range(5)]
        epoch = acks[0].body["epoch"]
        r = await self.api.aget(f"/api/history?channel={name}&limit=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.body), ["channel", "epoch", "offset", "oldest", "messages",
                                        "more"])
        self.assertEqual((r.body["epoch"], r.body["offset"], r.body["oldest"], r.body["more"]),
                         (epoch, 5, 1, True))
        self.assertEqual([m["offset"] for m in r.body["messages"]], [1, 2])
        for m, a in zip(r.body["messages"], acks):
            check_message(m, name, epoch, offset=a.body["offset"])
            self.assertEqual(m["timestamp"], a.body["timestamp"])
        r = await self.api.aget(f"/api/history?channel={name}&since=2&epoch={epoch}&limit=1000")
        self.assertEqual(([m["offset"] for m in r.body["messages"]], r.body["more"]),
                         ([3, 4, 5], False))
        r = await self.api.aget(f"/api/history?channel={name}&since=4&direction=backward")
        self.assertEqual([m["offset"] for m in r.body["messages"]], [3, 2, 1])
        r = await self.api.aget(f"/api/history?channel={name}&since=3")  # epoch not checked
        self.assertEqual([m["offset"] for m in r.body["messages"]], [4, 5])

    @scenario()
    async def test_history_errors(self):
        name = fresh()
        await self.api.apost("/api/publish", {"channel": name, "data": 1})
        self.assert_error(await self.api.aget(f"/api/history?channel={name}&since=0&epoch=nope"),
                          409, "epoch_mismatch", "nope")
        self.assert_error(await self.api.aget(f"/api/history?channel={name}&epoch=nope"), 400,
                          "bad_request", "since")
        self.assert_error(await self.api.aget("/api/history?channel=nohist:a"), 409,
                          "history_disabled", "nohist")
        for q in ("limit=0", "limit=1001", "since=-1", "direction=sideways",
                  "since=9007199254740992"):
            self.assert_error(await self.api.aget(f"/api/history?channel={name}&{q}"), 400,
                              "bad_request")


class TestChannelsInfo(ApiTestCase):
    @scenario()
    async def test_channels_are_listed_in_pages_sorted_by_name(self):
        prefix = f"chat:pg{os.getpid()}-"
        names = [f"{prefix}{i:02d}" for i in (7, 3, 11, 0, 5, 9, 1)]
        subs = await self.users_on_both_workers("erin")
        for i, n in enumerate(names):
            await list(subs.values())[i % 2].join(n)
        await list(subs.values())[1].join(names[0])  # two subscribers on one channel
        await self.api.apost("/api/publish", {"channel": names[1], "data": 1})
        listed, cursor, pages = [], None, 0
        while True:
            q = f"/api/channels?prefix={prefix}&limit=3"
            if cursor is not None:
                q += f"&cursor={cursor}"
            r = await self.api.aget(q)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(list(r.body), ["channels", "next"])
            self.assertLessEqual(len(r.body["channels"]), 3)
            listed += r.body["channels"]
            pages += 1
            cursor = r.body["next"]
            if cursor is None:
                break
            self.assertEqual(cursor, r.body["channels"][-1]["channel"])
        self.assertEqual(pages, 3)
        self.assertEqual([c["channel"] for c in listed], sorted(names))
        by_name = {c["channel"]: c for c in listed}
        for c in listed:
            self.assertEqual(list(c), ["channel", "subscribers", "offset", "epoch"])
            self.assertRegex(c["epoch"], EPOCH_RE)
        self.assertEqual(by_name[names[0]]["subscribers"], 2)
        self.assertEqual(by_name[names[1]]["offset"], 1)
        self.assertEqual(by_name[names[2]]["subscribers"], 1)
        # the whole set in one page ends with next null
        r = await self.api.aget(f"/api/channels?prefix={prefix}&limit=7")
        self.assertEqual((len(r.body["channels"]), r.body["next"]), (7, None))
        r = await self.api.aget(f"/api/channels?prefix={prefix}&cursor={sorted(names)[-1]}")
        self.assertEqual(r.body, {"channels": [], "next": None})
        self.assert_error(await self.api.aget("/api/channels?limit=0"), 400, "bad_request")
        self.assert_error(await self.api.aget("/api/channels?prefix=a*"), 400, "bad_request")

    @scenario()
    async def test_info_describes_the_node(self):
        c = await self.user("frank")
        await c.join(fresh())
        r = await self.api.aget("/api/info")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(list(r.body), ["version", "protocol", "node", "started_at", "uptime_ms",
                                        "workers", "connections", "channels", "subscriptions",
                                        "stopping"])
        b = r.body
        build = self.server.metrics().label_values("tidegate_build_info", "version")
        self.assertEqual({b["version"]}, build)
        self.assertEqual((b["protocol"], b["workers"], b["stopping"]), (1, 2, False))
        self.assertEqual(b["node"], socket.gethostname())
        assert_recent_ms(b["started_at"], slack_s=3600)
        self.assertLess(abs(b["started_at"] + b["uptime_ms"] - time.time() * 1000), 60000)
        self.assertGreaterEqual(b["connections"], 1)
        self.assertGreaterEqual(b["channels"], 1)
        self.assertGreaterEqual(b["subscriptions"], 1)
        self.assert_error(await self.api.aget("/api/info?verbose=1"), 400, "bad_request")


class TestHttpRules(ApiTestCase):
    def head(self, method, path, extra=b"", key=KEY, body=b""):
        return (f"{method} {path} HTTP/1.1\r\nHost: api\r\nX-Api-Key: {key}\r\n".encode()
                + extra + b"\r\n" + body)

    def test_a_missing_or_wrong_key_is_401_and_the_connection_closes(self):
        before = self.server.metrics().value("tidegate_api_auth_failures_total")
        for request in (b"GET /api/info HTTP/1.1\r\nHost: api\r\n\r\n",
                        self.head("GET", "/api/info", key="wrong"),
                        b"GET /nowhere HTTP/1.1\r\nHost: api\r\n\r\n",  # 401 before 404
                        b"GET /api/info HTTP/1.1\r\nHost: api\r\nAuthorization: Basic "
                        + KEY.encode() + b"\r\n\r\n"):
            res, reply = raw_exchange(self.port, request + self.head("GET", "/api/info"))
            self.assertEqual(reply.status, 401, reply)
            self.assertEqual(reply.body["error"], "unauthorized")
            self.assertEqual(res.header("www-authenticate"), 'Bearer realm="tidegate"')
            self.assertEqual(res.header("connection"), "close")
            self.assertTrue(res.closed, "the server closes after a 401")
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_api_auth_failures_total") == before + 4,
            "four more API auth failures")

    def test_http_errors_with_their_codes(self):
        big_head = self.head("GET", "/api/info", b"X-Pad: " + b"p" * 8200 + b"\r\n")
        many = self.head("GET", "/api/info", b"".join(b"X-%d: v\r\n" % i for i in range(33)))
        cases = [
            (self.head("GET", "/api/info").replace(b"HTTP/1.1", b"HTTP/1.0", 1), 505,
             "http_version_not_supported"),
            (b"GET /api/info\r\n\r\n", 400, "bad_request"),
            (big_head, 431, "head_too_large"),
            (many, 431, "head_too_large"),
            (self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"), 411,
             "length_required"),
            (self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"
                       b"Transfer-Encoding: chunked\r\n", body=b"0\r\n\r\n"), 411,
             "length_required"),
            (self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"
                       b"Content-Length: %d\r\n" % (MAX_BODY + 1)), 413, "body_too_large"),
        ]
        for request, status, code in cases:
            res, reply = raw_exchange(self.port, request)
            self.assertEqual((reply.status, reply.body["error"]), (status, code), request[:80])
            self.assertEqual(res.header("connection"), "close", code)
            self.assertTrue(res.closed, f"{code} closes the connection")

    def test_errors_after_the_path_keep_the_connection(self):
        r = self.api.get("/api/nothing-here")
        self.assertEqual((r.status, r.body["error"]), (404, "not_found"), r)
        sock = self.api.conn.sock
        r = self.api.get("/api/publish")
        self.assertEqual((r.status, r.body["error"], r.headers.get("allow")),
                         (405, "method_not_allowed", "POST"), r)
        r = self.api.post("/api/info", "{}")
        self.assertEqual((r.status, r.headers.get("allow")), (405, "GET"), r)
        r = self.api.request("POST", "/api/publish", b'{"channel":"a","data":1}',
                             headers={"Content-Type": "text/plain"})
        self.assertEqual((r.status, r.body["error"]), (415, "unsupported_media_type"), r)
        r = self.api.request("GET", "/api/info", b"xyz")
        self.assertEqual((r.status, r.body["error"]), (400, "bad_request"), r)
        r = self.api.post("/api/publish?x=1", {"channel": "a", "data": 1})
        self.assertEqual((r.status, r.body["error"]), (400, "bad_request"), r)
        r = self.api.get("/api/info")
        self.assertEqual(r.status, 200, r)
        self.assertIs(self.api.conn.sock, sock, "every one of those kept the connection")

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        name = fresh()
        r = self.api.post("/api/publish", {"channel": name, "data": 0})
        sock = self.api.conn.sock
        for i in range(1, 6):
            r = self.api.post("/api/publish", {"channel": name, "data": i})
            self.assertEqual(r.body["offset"], i + 1)
            r = self.api.get(f"/api/history?channel={name}&limit=1&direction=backward")
            self.assertEqual(r.body["messages"][0]["data"], i)
            self.assertNotIn("connection", r.headers)
        self.assertIs(self.api.conn.sock, sock)
        r = self.api.get("/api/info", headers={"Connection": "close"})
        self.assertEqual((r.status, r.headers.get("connection")), (200, "close"))
        self.assertIsNone(self.api.conn, "the client saw Connection: close")

    def test_the_thousandth_reply_closes_the_connection(self):
        api = Api(self.port)
        self.addCleanup(api.close)
        for i in range(1, 1001):
            r = api.get("/api/channels?limit=1")
            if i < 1000:
                self.assertNotIn("connection", r.headers, i)
        self.assertEqual(r.headers.get("connection"), "close")

    def test_pipelined_requests_are_answered_in_order(self):
        name = fresh()
        body = compact({"channel": name, "data": 1}).encode()
        one = self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"
                        b"Content-Length: %d\r\n" % len(body), body=body)
        last = self.head("GET", f"/api/history?channel={name}", b"Connection: close\r\n")
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(one + one + last)  # one write: the server reads them in turn
            replies = [Reply(st, h, b) for st, h, b in recv_responses(sock, 3)]
            self.assertEqual(sock.recv(1), b"", "Connection: close on the last one")
        self.assertEqual([r.status for r in replies], [200, 200, 200])
        self.assertEqual([replies[0].body["offset"], replies[1].body["offset"]], [1, 2])
        self.assertEqual(len(replies[2].body["messages"]), 2)

    def test_expect_100_continue(self):
        body = compact({"channel": fresh(), "data": "late"}).encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"
                                b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)))
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "the server closed before answering")
                got += chunk
            self.assertEqual(got, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
            status, headers, raw = recv_responses(s, 1)[0]
            self.assertEqual(Reply(status, headers, raw).body["offset"], 1)
        # a refused head answers the final status instead of 100, and closes
        res, reply = raw_exchange(self.port, self.head(
            "POST", "/api/publish", b"Content-Type: text/plain\r\nExpect: 100-continue\r\n"
            b"Content-Length: 10\r\n"))
        self.assertEqual((reply.status, res.closed), (415, True))
        self.assertNotIn(b"100 Continue", res.body)

    def test_a_request_sent_in_small_pieces(self):
        name = fresh()
        body = compact({"channel": name, "data": {"text": "x" * 300}}).encode()
        request = self.head("POST", "/api/publish", b"Content-Type: application/json\r\n"
                            b"Connection: close\r\nContent-Length: %d\r\n" % len(body),
                            body=body)
        res, reply = raw_exchange(self.port, request, chunks=7, chunk_delay_s=0.001)
        self.assertEqual((reply.status, reply.body["offset"], res.closed), (200, 1, True), reply)

    def test_a_request_not_sent_within_10_s_gets_408(self):
        start = time.monotonic()
        res, reply = raw_exchange(self.port, b"GET /api/info HTTP/1.1\r\nHost: a\r\n",
                                  timeout=20)
        took = time.monotonic() - start
        self.assertEqual((reply.status, reply.body["error"], res.closed),
                         (408, "request_timeout", True))
        self.assertGreaterEqual(took, 9.5)
        self.assertLess(took, 15)

    def test_metrics_count_requests_by_endpoint_and_status(self):
        def count(m, endpoint, status):
            return m.value("tidegate_api_requests_total", endpoint=endpoint, status=status)
        m0 = self.server.metrics()
        self.api.post("/api/publish", {"channel": fresh(), "data": 1})
        self.api.get("/api/presence?channel=lobby")
        self.api.get("/api/zzz")
        self.server.wait_for_metric(
            lambda m: (count(m, "publish", "200") == count(m0, "publish", "200") + 1
                       and count(m, "presence", "409") == count(m0, "presence", "409") + 1
                       and count(m, "none", "404") == count(m0, "none", "404") + 1),
            "the three requests counted")
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_api_connections_open") >= 1, "an open API connection")


class TestConnectionLimit(ApiTestCase):
    server_args = ApiTestCase.server_args + ("--api-max-connections", "2")

    def test_connections_over_the_limit_get_503(self):
        held = [Api(self.port) for _ in range(2)]
        for a in held:
            self.addCleanup(a.close)
            self.assertEqual(a.get("/api/info").status, 200)
        # answered at accept, before any request: connect and read
        res, reply = raw_exchange(self.port, b"")
        self.assertEqual((reply.status, reply.body["error"], res.closed),
                         (503, "too_many_connections", True))
        self.assertEqual(res.header("retry-after"), "1")
        held[0].close()
        deadline = time.monotonic() + 10
        while True:  # the server notices the close on its next turn
            res, reply = raw_exchange(self.port, b"GET /api/info HTTP/1.1\r\nHost: a\r\n"
                                      b"Connection: close\r\nX-Api-Key: "
                                      + KEY.encode() + b"\r\n\r\n")
            if reply.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(reply.status, 200, reply)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestApiOff(unittest.TestCase):
    def test_without_keys_the_api_listener_is_not_opened(self):
        port = free_port()
        with Server("--api-listen", f"127.0.0.1:{port}", workers=2) as server:
            server.wait_for_log(r'msg="server API off: no api_keys configured"')
            self.assertFalse(any("kind=api" in line for line in server.log_lines()))
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()


class TestStop(unittest.TestCase):
    def test_a_request_during_the_stop_gets_503_shutting_down(self):
        server = Server("--api-listen", "127.0.0.1:0", "--api-keys", KEY, workers=2).start()
        try:
            port = api_port(server)
            idle = Api(port)
            self.assertEqual(idle.get("/api/info").status, 200)
            busy = socket.create_connection(("127.0.0.1", port), timeout=10)
            busy.sendall(b"GET /api/info HTTP/1.1\r\nHost: a\r\n")
            time.sleep(0.3)  # the partial head is read before the stop begins
            server.proc.send_signal(signal.SIGTERM)
            server.wait_for_log(r'msg="stopping')
            time.sleep(0.3)
            busy.sendall(b"X-Api-Key: " + KEY.encode() + b"\r\n\r\n")
            data = b""
            while True:
                chunk = busy.recv(4096)
                if not chunk:
                    break
                data += chunk
            busy.close()
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 503 "), data)
            self.assertIn(b"Connection: close", head)
            self.assertEqual(json.loads(body)["error"], "shutting_down")
            idle.close()
            server.wait_exit(20)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
