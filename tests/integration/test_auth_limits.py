"""Authentication, permissions and limits (docs/protocol.md sections 3, 4.3, 5.5, 9, 10
and 11): every way a token fails (a `disconnect` notice with 4001 or 4002, then the same
close code, never an `error`), connect_timeout (4005), anonymous connections, capabilities
and namespace rules, the message rate limit, the error bucket (4004), and slow consumers
(1008, or a `gap` under slow_consumer = skip) while a normal subscriber keeps receiving."""

import asyncio
import itertools
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import (ALL_CAPS, ProtocolTestCase, check_disconnect,  # noqa: E402
                             check_error, check_message, raw_next_json, raw_send_json,
                             scenario)
from tidegate_harness import Close  # noqa: E402
from tidegate_tokens import (OTHER_SECRET, SECRET, b64url, expires_at_ms, make_token,  # noqa: E402
                             sign, unsigned_token)

AUDIENCE = "chat.example.com"
ISSUER = "https://auth.example.com"
_serial = itertools.count(1)


def fresh(namespace=None):
    name = f"c-{os.getpid()}-{next(_serial)}"
    return f"{namespace}:{name}" if namespace else name


class TestTokens(ProtocolTestCase):
    server_args = ("--jwt-audience", AUDIENCE, "--jwt-issuer", ISSUER,
                   "--connect-timeout", "1s")

    def token(self, sub="alice", **kw):
        kw.setdefault("aud", AUDIENCE)
        kw.setdefault("iss", ISSUER)
        return make_token(sub, **kw)

    async def refused(self, token, code=4001, reason="auth_failed", in_url=(False, True)):
        """Presents `token` by `connect` and in the URL; both must end in `code`."""
        for url in in_url:
            if url:
                c = await self.open(token=token, label="token in the URL")
            else:
                c = await self.open(label="connect")
                await c.send_request("connect", 1, token=token)
            await c.expect_disconnect(code, reason, reconnect=(code != 4001))

    @scenario()
    async def test_valid_tokens_connect(self):
        exp = int(time.time()) + 600
        c = await self.open()
        await c.connect(self.token("alice", exp=exp, unknown_claim={"x": [1]}))
        self.assertEqual(c.connected["user_id"], "alice")
        self.assertEqual(c.connected["expires_at"], expires_at_ms(exp))
        c = await self.user("bob", in_url=True, aud=["other", AUDIENCE], iss=ISSUER)
        self.assertEqual(c.connected["user_id"], "bob")
        c = await self.open()                       # no kid: tried with every HS256 key
        await c.connect(self.token("carol", kid=None))
        c = await self.open()                       # nbf and iat within the leeway
        now = int(time.time())
        await c.connect(self.token("dave", nbf=now + 10, iat=now + 10))
        c = await self.open()                       # exp passed, but not exp + leeway
        await c.connect(self.token("erin", exp=now - 10))

    @scenario()
    async def test_a_bad_signature_is_4001(self):
        await self.refused(self.token(secret=OTHER_SECRET))
        good = self.token()
        head, payload, sig = good.split(".")
        tampered = head + "." + b64url(b'{"sub":"root","exp":9999999999}') + "." + sig
        await self.refused(tampered)

    @scenario()
    async def test_an_expired_token_is_4002(self):
        await self.refused(self.token(exp=int(time.time()) - 100), 4002, "token_expired")

    @scenario(timeout_s=30)
    async def test_the_connection_ends_with_4002_when_the_token_expires(self):
        exp = int(time.time()) - 27                 # valid for about 3 more seconds
        c = await self.open()
        await c.connect(self.token(exp=exp))
        self.assertEqual(c.connected["expires_at"], expires_at_ms(exp))
        notice = await c.expect_disconnect(4002, "token_expired", reconnect=True, timeout=15)
        self.assertGreaterEqual(time.time() * 1000, expires_at_ms(exp) - 1000,
                                f"closed before expires_at: {notice!r}")

    @scenario()
    async def test_wrong_audience_or_issuer_is_4001(self):
        for kw in ({"aud": "evil.example.com"}, {"aud": ["a", "b"]}, {"aud": None},
                   {"aud": 7}, {"iss": "https://evil.example.com"}, {"iss": None}):
            await self.refused(self.token(**kw), in_url=(False,))

    @scenario()
    async def test_alg_none_and_other_algorithms_are_4001(self):
        await self.refused(unsigned_token("alice", aud=AUDIENCE, iss=ISSUER))
        for header in ({"alg": "HS512", "kid": "main"}, {"alg": "hs256", "kid": "main"},
                       {"alg": "RS256", "kid": "main"}, {"alg": "ES256"},
                       {"alg": "HS256", "kid": "other"},
                       {"alg": "HS256", "kid": "main", "crit": ["exp"]},
                       {"kid": "main"}):
            await self.refused(self.token(header=header), in_url=(False,))

    @scenario()
    async def test_tokens_not_yet_valid_are_4001(self):
        now = int(time.time())
        await self.refused(self.token(nbf=now + 120), in_url=(False,))
        await self.refused(self.token(iat=now + 120), in_url=(False,))

    @scenario()
    async def test_malformed_tokens_and_claims_are_4001(self):
        now = int(time.time())
        bad_payloads = [
            {"exp": now + 600, "aud": AUDIENCE, "iss": ISSUER},                    # no sub
            {"sub": "", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER},
            {"sub": "u" * 129, "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER},
            {"sub": "a\nb", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER},
            {"sub": 42, "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER},
            {"sub": "alice", "aud": AUDIENCE, "iss": ISSUER},                       # no exp
            {"sub": "alice", "exp": now + 600.5, "aud": AUDIENCE, "iss": ISSUER},
            {"sub": "alice", "exp": str(now + 600), "aud": AUDIENCE, "iss": ISSUER},
            {"sub": "alice", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER,
             "caps": {"join": "chat:*"}},
            {"sub": "alice", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER,
             "caps": {"join": ["chat:*:x*"]}},
            {"sub": "alice", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER,
             "caps": {"publish": ["p%d" % i for i in range(65)]}},
            {"sub": "alice", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER,
             "caps": {"join": ["x" * 257]}},
            {"sub": "alice", "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER,
             "pad": "p" * 4200},                                      # over max_token_bytes
        ]
        header = {"alg": "HS256", "typ": "JWT", "kid": "main"}
        for payload in bad_payloads:
            await self.refused(sign(header, payload), in_url=(False,))
        good = self.token()
        for broken in (good.rsplit(".", 1)[0], good + ".x", "not-a-token", good + "=",
                       sign(header, '{"sub":"alice","sub":"bob","exp":%d,"aud":"%s",'
                            '"iss":"%s"}' % (now + 600, AUDIENCE, ISSUER)),
                       sign(header, "[1]"), sign("not json", {"sub": "alice"})):
            await self.refused(broken, in_url=(False,))

    @scenario()
    async def test_no_connect_within_connect_timeout_is_4005(self):
        c = await self.open()
        started = time.monotonic()
        await asyncio.sleep(0.3)
        await c.ping()                              # ping is allowed, and is no connect
        await c.expect_disconnect(4005, "connect_timeout", reconnect=True, timeout=6)
        self.assertGreater(time.monotonic() - started, 0.8, "closed before connect_timeout")

    @scenario()
    async def test_anonymous_is_refused_without_allow_anonymous(self):
        c = await self.open()
        await c.send_request("connect", "anon")
        await c.expect_disconnect(4001, "auth_failed", reconnect=False)
        c = await self.open(token="")               # an empty token is no token
        await c.send({"type": "connect"})
        await c.expect_disconnect(4001, "auth_failed", reconnect=False)



class TestInlineKey(ProtocolTestCase):
    """jwt_keys given inline (base64:) instead of a file: tokens signed with that secret
    connect, others get 4001."""
    jwt = False
    server_args = ("--jwt-keys",
                   "main:hs256:base64:" + b64url(SECRET))  # URL-safe alphabet, no padding

    @scenario()
    async def test_an_inline_secret_verifies_tokens(self):
        c = await self.user("alice")
        self.assertEqual(c.connected["user_id"], "alice")
        c = await self.open(label="wrong secret")
        await c.send_request("connect", 1, token=make_token("bob", secret=OTHER_SECRET))
        await c.expect_disconnect(4001, "auth_failed", reconnect=False)

class TestAnonymous(ProtocolTestCase):
    server_args = ("--allow-anonymous",
                   "--namespace.pub.join=anonymous", "--namespace.pub.publish=anonymous",
                   "--namespace.ro.join=anonymous",
                   "--namespace.auth.join=authenticated",
                   "--namespace.auth.publish=authenticated")

    @scenario()
    async def test_anonymous_connections_use_anonymous_namespaces_only(self):
        guest = await self.anonymous()
        self.assertEqual((guest.connected["user_id"], guest.connected["expires_at"]),
                         (None, None))
        name = fresh("pub")
        alice = await self.user("alice", caps=ALL_CAPS)
        await alice.join(name)
        await guest.join(name)
        ack = await guest.publish(name, {"from": "nobody"})
        for c in (guest, alice):
            m = check_message(await c.next_of("message", name), name, offset=ack["offset"])
            self.assertIsNone(m["user_id"])
        await guest.join(fresh("ro"))
        for type_, name in (("join_channel", fresh()), ("join_channel", fresh("auth")),
                            ("send_message", fresh("ro")), ("send_message", fresh("auth")),
                            ("send_message", fresh())):
            fields = {"data": 1} if type_ == "send_message" else {}
            err = await guest.error(type_, "not_authorized", channel=name, **fields)
            self.assertEqual(err["channel"], name)
        await guest.ping()

    @scenario()
    async def test_a_bad_token_is_refused_even_when_anonymous_is_allowed(self):
        c = await self.open()
        await c.send_request("connect", 1, token=make_token("alice", secret=OTHER_SECRET))
        await c.expect_disconnect(4001, "auth_failed", reconnect=False)


class TestPermissions(ProtocolTestCase):
    server_args = ("--namespace.feed.join=authenticated", "--namespace.feed.publish=none",
                   "--namespace.auth.join=authenticated",
                   "--namespace.auth.publish=authenticated",
                   "--namespace.room.presence=on")
    CAPS = {"join": ["team-7*", "lobby", "room:a"], "publish": ["team-7*", "room:*"],
            "other": "ignored"}

    @scenario()
    async def test_join_follows_caps_join(self):
        alice = await self.user("alice", caps=self.CAPS)
        for name in ("lobby", "team-7", "team-7.ops", "team-70", "room:a"):
            await alice.join(name)
        for name in ("lobby2", "Lobby", "team-", "team-8", "room:b", "room:a2"):
            err = await alice.error("join_channel", "not_authorized", channel=name)
            self.assertEqual(err["channel"], name)

    @scenario()
    async def test_publish_follows_caps_publish_and_needs_no_join(self):
        alice = await self.user("alice", caps=self.CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        await bob.join("room:b")
        ack = await alice.publish("room:b", "allowed without joining")
        m = await bob.next_of("message", "room:b")
        self.assertEqual((m["offset"], m["user_id"]), (ack["offset"], "alice"))
        await alice.publish("team-7.x", 1)
        await alice.join("lobby")
        err = await alice.error("send_message", "not_authorized", channel="lobby", data=1)
        self.assertEqual(err["channel"], "lobby")

    @scenario()
    async def test_presence_and_history_need_the_join_permission(self):
        alice = await self.user("alice", caps=self.CAPS)
        await alice.call("presence", "presence", channel="room:a")
        await alice.call("history", "history", channel="room:a")
        for type_ in ("presence", "history"):
            await alice.error(type_, "not_authorized", channel="room:b")

    @scenario()
    async def test_a_token_without_caps_can_use_authenticated_namespaces_only(self):
        nobody = await self.user("nobody")
        await nobody.error("join_channel", "not_authorized", channel="lobby")
        await nobody.error("send_message", "not_authorized", channel="lobby", data=1)
        name = fresh("auth")
        await nobody.join(name)
        await nobody.publish(name, "fine")
        await nobody.join(fresh("feed"))

    @scenario()
    async def test_publish_none_leaves_publishing_to_the_server_api(self):
        root = await self.user("root", caps=ALL_CAPS)
        name = fresh("feed")
        await root.join(name)
        err = await root.error("send_message", "not_authorized", channel=name, data=1)
        self.assertEqual(err["channel"], name)


class TestRateLimit(ProtocolTestCase):
    server_args = ("--client-messages-per-s", "5", "--client-messages-burst", "5")

    async def pipeline(self, c, texts):
        for t in texts:
            await c.send(t)

    @scenario()
    async def test_the_sixth_quick_message_is_rate_limited(self):
        c = await self.user("alice", in_url=True)   # the token in the URL costs nothing
        self.assertEqual((c.connected["limits"]["messages_per_s"],
                          c.connected["limits"]["messages_burst"]), (5, 5))
        await self.pipeline(c, ['{"type":"ping","id":%d}' % i for i in range(1, 7)])
        for i in range(1, 6):
            self.assertEqual((await c.reply(i))["type"], "pong")
        err = check_error(await c.reply(6), "rate_limited", request_type="ping")
        retry = err["retry_after_ms"]
        self.assertIsInstance(retry, int)
        self.assertTrue(1 <= retry <= 200, f"one token comes within 200 ms at 5/s: {err!r}")
        await asyncio.sleep(retry / 1000 + 0.05)
        await c.ping()

    @scenario()
    async def test_every_message_counts_and_the_rate_comes_before_the_type(self):
        c = await self.open()
        await c.send_request("connect", 1, token=make_token("alice"))
        await self.pipeline(c, ['{"type":"ping","id":%d}' % i for i in range(2, 6)] +
                            ['{"type":"ping","id":null}', '{"type":"bogus","id":6}'])
        self.assertEqual((await c.reply(1))["type"], "connected")
        for i in range(2, 6):
            self.assertEqual((await c.reply(i))["type"], "pong")
        # an invalid id is refused before a token is taken; the bucket is empty for bogus
        check_error(await c.next(lambda m: "id" not in m), "bad_request", has_id=False)
        check_error(await c.reply(6), "rate_limited")


class TestErrorBucket(ProtocolTestCase):
    server_args = ("--error-burst", "20")

    @scenario()
    async def test_21_striking_errors_in_a_burst_close_with_4004(self):
        c = await self.user("alice")
        for i in range(21):
            await c.send('{"type":"bogus","id":%d}' % i)
        for i in range(20):
            check_error(await c.next(), "unknown_type", id=i)
        await c.expect_disconnect(4004, "too_many_errors", reconnect=False)

    @scenario()
    async def test_errors_that_do_not_strike_do_not_close(self):
        c = await self.user("alice", caps=ALL_CAPS)
        name = fresh()
        epoch = (await c.join(name))["epoch"]
        for i in range(25):
            await c.send_request("history", i, channel=name,
                                 since={"offset": 0, "epoch": "x" + epoch[:30]})
        for i in range(25):
            check_error(await c.reply(i), "epoch_mismatch", channel=name)
        await c.ping()


class TestSlowConsumer(ProtocolTestCase):
    """A subscriber that stops reading. The flood (700 messages of 16 KiB, 11 MiB) is far
    more than the kernel buffers on loopback (at most 4 MiB by default) plus a 64 KiB send
    queue, so the gateway must act on the slow connection; the normal subscriber, which the
    publisher waits for (WINDOW), must get every message meanwhile."""

    server_args = ("--client-messages-per-s", "0", "--send-queue-bytes-max", "64k",
                   "--namespace.bulk.join=authenticated", "--namespace.bulk.publish=authenticated",
                   "--namespace.skip.join=authenticated", "--namespace.skip.publish=authenticated",
                   "--namespace.skip.slow_consumer=skip")
    FLOOD = 700
    WINDOW = 2
    PAD = "x" * (16 * 1024)

    def stalled_subscriber(self, name):
        """A raw client that joins `name` and then reads nothing (tiny receive buffer)."""
        client = self.connect(path="/?token=" + make_token("stalled"), rcvbuf=4096)
        self.assertEqual(raw_next_json(client)["type"], "connected")
        raw_send_json(client, {"type": "join_channel", "id": 1, "channel": name})
        joined = raw_next_json(client)
        self.assertEqual(joined["type"], "joined", joined)
        return client, joined

    async def flood(self, name, start=0, count=FLOOD):
        """Publishes `count` large messages and has a normal subscriber read all of them;
        returns the acks."""
        reader = await self.user("reader")
        base = (await reader.join(name))["offset"]
        publisher = await self.user("publisher")

        # The publisher stays at most WINDOW messages ahead of the normal reader: a Python
        # reader is slower than the gateway, and without pacing it would become a slow
        # consumer too (its 64 KiB send queue holds four of these messages, and a send in
        # flight lets the queue grow meanwhile).
        window = asyncio.Semaphore(self.WINDOW)

        async def publish():
            ids = []
            for i in range(count):
                await window.acquire()
                ids.append(await publisher.send_request("send_message", publisher.new_id(),
                                                        channel=name,
                                                        data={"n": start + i, "pad": self.PAD}))
            return [await publisher.reply(i, timeout=30) for i in ids]

        async def read():
            got = []
            for _ in range(count):
                got.append((await reader.next_of("message", name, timeout=30))["offset"])
                window.release()
            return got

        acks, got = await asyncio.gather(publish(), read())
        self.assertEqual([a["type"] for a in acks], ["ack"] * count)
        self.assertEqual(got, list(range(base + 1, base + count + 1)),
                         "the normal subscriber gets every message")
        await reader.ping()
        return acks

    @scenario(timeout_s=60)
    async def test_a_subscriber_that_stops_reading_is_closed_with_1008(self):
        name = fresh("bulk")
        stalled, joined = await asyncio.to_thread(self.stalled_subscriber, name)
        await self.flood(name)

        def drain():
            expected = joined["offset"] + 1
            while True:
                m = raw_next_json(stalled, timeout=15)
                self.assertNotIsInstance(m, Close, "a disconnect notice comes before 1008")
                if m["type"] == "disconnect":
                    check_disconnect(m, 1008, "slow_consumer", reconnect=True)
                    stalled.expect_close(1008)
                    return expected - 1
                check_message(m, name, joined["epoch"], expected)
                expected += 1

        last = await asyncio.to_thread(drain)
        self.assertLess(last, joined["offset"] + self.FLOOD,
                        "the stalled subscriber was closed before the end of the flood")

    @scenario(timeout_s=60)
    async def test_under_skip_a_stalled_subscriber_stays_and_gets_a_gap(self):
        name = fresh("skip")
        stalled, joined = await asyncio.to_thread(self.stalled_subscriber, name)
        acks = await self.flood(name)
        end = acks[-1]["offset"]

        def drain_until(last_offset, seen):
            """Reads until every offset up to last_offset is covered by a message or a
            gap, each exactly once, in order."""
            expected = seen["next"]
            while expected <= last_offset:
                m = raw_next_json(stalled, timeout=15)
                self.assertNotIsInstance(m, Close, f"closed at offset {expected}")
                if m["type"] == "gap":
                    self.assertEqual((m["channel"], m["epoch"], m["reason"]),
                                     (name, joined["epoch"], "slow_consumer"), m)
                    self.assertEqual(m["from"], expected, f"gap must start where the "
                                     f"messages stopped: {m!r}")
                    self.assertLessEqual(m["from"], m["to"])
                    seen["gaps"].append((m["from"], m["to"]))
                    expected = m["to"] + 1
                else:
                    check_message(m, name, joined["epoch"], expected)
                    expected += 1
            seen["next"] = expected

        seen = {"next": joined["offset"] + 1, "gaps": []}
        await asyncio.to_thread(drain_until, end, seen)
        self.assertNotEqual(seen["gaps"], [], "a stalled subscriber under skip gets a gap")
        # caught up: the next message is delivered, and the connection is still served
        extra = await self.flood(name, start=self.FLOOD, count=1)
        await asyncio.to_thread(drain_until, extra[-1]["offset"], seen)
        raw_send_json(stalled, {"type": "ping", "id": "alive"})
        pong = await asyncio.to_thread(raw_next_json, stalled)
        self.assertEqual(pong.raw, '{"type":"pong","id":"alive"}')


if __name__ == "__main__":
    unittest.main()
