"""The channel protocol's basics (docs/protocol.md sections 2, 3.1, 4.1, 6, 7, 9): connecting
by `connect` and by ?token=, ping/pong with ids echoed byte for byte, join/publish/ack/
message, `data` forwarded byte for byte, `left`, every request error a client can provoke
on its own with its `id` and `request_type`, the order of checks, and the frames that end a
connection (binary -> 1003 with a notice; bad UTF-8 and oversize without one).

Limits are small so the edges are cheap to reach: max_publish_bytes 1k,
max_channels_per_connection 4, max_message_bytes 64k. Every error takes a strike (burst
20), so each test that provokes many errors uses its own connections and stays below 20
per connection."""

import itertools
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import (ALL_CAPS, EPOCH_RE, ProtocolTestCase,  # noqa: E402
                             assert_recent_ms, check_disconnect, check_error, check_message,
                             compact, raw_next_json, raw_send_json, scenario)
from tidegate_harness import OP_BINARY, OP_TEXT, Close, build_frame  # noqa: E402
from tidegate_tokens import expires_at_ms, make_token  # noqa: E402

MAX_PUBLISH = 1024
MAX_CHANNELS = 4
MAX_MESSAGE = 64 * 1024
_serial = itertools.count(1)


def fresh(prefix="room"):
    """A channel name no other test uses (channels are created by their first join)."""
    return f"{prefix}-{os.getpid()}-{next(_serial)}"


class ChannelsTestCase(ProtocolTestCase):
    server_args = ("--max-publish-bytes", "1k",
                   "--max-channels-per-connection", str(MAX_CHANNELS),
                   "--max-message-bytes", "64k",
                   "--namespace.chat.join=authenticated",
                   "--namespace.chat.publish=authenticated")


class TestConnect(ChannelsTestCase):
    @scenario()
    async def test_connect_message_is_answered_with_connected(self):
        exp = int(time.time()) + 3600
        c = await self.open()
        await c.send('{"type":"connect","id":"c-1","token":%s}'
                     % compact(make_token("alice", caps=ALL_CAPS, exp=exp)))
        m = await c.reply("c-1")
        self.assertEqual(m["type"], "connected", m)
        self.assertTrue(m.raw.startswith('{"type":"connected","id":"c-1",'), m.raw)
        self.assertIsInstance(m["client_id"], str)
        self.assertTrue(1 <= len(m["client_id"].encode()) <= 32, m)
        self.assertEqual(m["user_id"], "alice")
        self.assertEqual(m["expires_at"], expires_at_ms(exp))
        self.assertEqual(m["protocol"], 1)
        self.assertEqual(m["ping_interval_ms"], 25000)
        self.assertEqual(m["limits"], {"max_publish_bytes": MAX_PUBLISH,
                                       "max_channels_per_connection": MAX_CHANNELS,
                                       "messages_per_s": 50, "messages_burst": 100,
                                       "typing_per_s": 1, "history_page_max": 100})
        other = await self.user("alice", caps=ALL_CAPS)
        self.assertNotEqual(other.connected["client_id"], m["client_id"],
                            "client_id is unique per process life")

    @scenario()
    async def test_token_in_the_url_gets_connected_without_asking(self):
        c = await self.open(token=make_token("bob", caps=ALL_CAPS))
        m = await c.await_connected()
        self.assertEqual(m["user_id"], "bob")
        # the token came in the URL: a connect is one too many, and the connection stays
        await c.error("connect", "already_connected", token=make_token("bob"))
        await c.ping()
        await c.join(fresh())

    @scenario()
    async def test_an_empty_token_parameter_counts_as_absent(self):
        c = await self.open(token="")
        first = await c.call("ping", "pong")        # nothing came before the pong
        self.assertEqual(c.inbox, [], f"nothing is sent unasked: {first!r}")
        await c.connect(make_token("carol", caps=ALL_CAPS))
        self.assertEqual(c.connected["user_id"], "carol")

    @scenario()
    async def test_a_second_connect_is_already_connected(self):
        c = await self.user("alice", caps=ALL_CAPS)
        err = await c.error("connect", "already_connected", token=make_token("mallory"))
        self.assertNotIn("channel", err)
        await c.ping()
        joined = await c.join(fresh())
        self.assertEqual(joined["recovered"], False)

    @scenario()
    async def test_requests_before_connect_get_not_connected(self):
        c = await self.open()
        name = fresh()
        for type_, fields in (("join_channel", {"channel": name}),
                              ("leave_channel", {"channel": name}),
                              ("send_message", {"channel": name, "data": 1}),
                              ("user_typing", {"channel": name}),
                              ("presence", {"channel": name}),
                              ("history", {"channel": name})):
            await c.error(type_, "not_connected", **fields)
        await c.ping()                              # ping needs no connect
        await c.connect(make_token("alice", caps=ALL_CAPS))
        await c.join(name)

    @scenario()
    async def test_ping_ids_come_back_byte_for_byte(self):
        c = await self.open()
        cases = [
            ('{"type":"ping","id":"a\\u0062"}', '{"type":"pong","id":"a\\u0062"}'),
            ('{"type":"ping","id":"x\\"y\\\\z\\/"}', '{"type":"pong","id":"x\\"y\\\\z\\/"}'),
            ('{"type":"ping","id":"κόσμε ✓"}', '{"type":"pong","id":"κόσμε ✓"}'),
            ('{"type":"ping","id":"%s"}' % ("i" * 64), '{"type":"pong","id":"%s"}' % ("i" * 64)),
            ('{"type":"ping","id":0}', '{"type":"pong","id":0}'),
            ('{"type":"ping","id":9007199254740991}', '{"type":"pong","id":9007199254740991}'),
            ('{"id":17,"type":"ping"}', '{"type":"pong","id":17}'),
            (' \n{ "type" : "ping" ,\t"id" : 18 }\r\n ', '{"type":"pong","id":18}'),
            ('{"type":"ping"}', '{"type":"pong"}'),
        ]
        for connected in (False, True):
            for sent, expected in cases:
                await c.send(sent)
                m = await c.next()
                self.assertEqual(m.raw, expected, f"reply to {sent!r}")
            if not connected:
                await c.connect(make_token("alice", caps=ALL_CAPS))

    @scenario()
    async def test_invalid_ids_are_bad_request_answered_without_id(self):
        c = await self.user("alice", caps=ALL_CAPS)
        for bad in ("null", '""', "-1", "-0", "1.0", "1e2", "9007199254740992",
                    '"%s"' % ("i" * 65), "{}", "[1]", "true"):
            await c.send('{"type":"ping","id":%s}' % bad)
            m = await c.next(what=f"error for id {bad}")
            check_error(m, "bad_request", has_id=False)
        await c.ping()


class TestPublish(ChannelsTestCase):
    @scenario()
    async def test_every_subscriber_gets_the_message_the_publisher_included(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        joined_a = await alice.join(name)
        self.assertEqual((joined_a["offset"], joined_a["recovered"], joined_a["messages"]),
                         (0, False, []), "a new channel has offset 0")
        self.assertRegex(joined_a["epoch"], EPOCH_RE)
        joined_b = await bob.join(name)
        self.assertEqual((joined_b["epoch"], joined_b["offset"]), (joined_a["epoch"], 0))

        ack = await alice.publish(name, {"text": "hello"})
        self.assertEqual((ack["channel"], ack["offset"], ack["epoch"]),
                         (name, 1, joined_a["epoch"]))
        assert_recent_ms(ack["timestamp"])
        for c in (alice, bob):
            m = await c.next_of("message", name)
            check_message(m, name, joined_a["epoch"], 1, "alice")
            self.assertEqual(m["data"], {"text": "hello"})
            self.assertEqual(m["timestamp"], ack["timestamp"])
            self.assertTrue(m.raw.endswith(',"data":{"text":"hello"}}'), m.raw)

        ack2 = await bob.publish(name, "hi alice")
        self.assertEqual(ack2["offset"], 2)
        for c in (alice, bob):
            check_message(await c.next_of("message", name), name, joined_a["epoch"], 2, "bob")

    @scenario()
    async def test_data_is_forwarded_byte_for_byte(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        await alice.join(name)
        await bob.join(name)
        values = [
            '{"text":"h\\u00e9llo" , "n":1.50}',
            '[ 1 , 2.50 , -0.0, 1E+2, 1e-7 ]',
            '"κόσμε ✓ \\ud83d\\ude00 \\/ \\\\ \\" \\n \\u0000"',
            '12345678901234567890123456789',
            '{"deep":[[[[{}]]]], "":{},"dup":1,"dup":2}',
            'null', 'true', 'false', '-0', '""', '{}', '[]',
            '{\n\t"multi" :\r\n "line"\n}',
        ]
        for text in values:
            # whitespace around `data` is not part of it; inside it is kept
            ack = await alice.publish(name, raw_data="  " + text + " \n ")
            for c in (alice, bob):
                m = await c.next_of("message", name)
                check_message(m, name, offset=ack["offset"], user_id="alice")
                self.assertTrue(m.raw.endswith(',"data":' + text + "}"),
                                f"sent data {text!r}, received {m.raw!r}")

    @scenario()
    async def test_offsets_are_consecutive_and_acks_match_the_messages(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        epoch = (await bob.join(name))["epoch"]
        ids = []
        for i in range(30):                          # pipelined: no wait for the acks
            ids.append(await alice.send_request("send_message", alice.new_id(), channel=name,
                                                data={"seq": i}))
        acks = [await alice.reply(i) for i in ids]
        self.assertEqual([a["type"] for a in acks], ["ack"] * 30, acks)
        self.assertEqual([a["offset"] for a in acks], list(range(1, 31)))
        for i, ack in enumerate(acks):
            m = check_message(await bob.next_of("message", name), name, epoch, i + 1, "alice")
            self.assertEqual(m["data"], {"seq": i})
            self.assertEqual(m["timestamp"], ack["timestamp"])
            self.assertEqual(ack["epoch"], epoch)

    @scenario()
    async def test_publishing_needs_no_join_and_delivers_nothing_to_a_non_subscriber(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        await bob.join(name)
        ack = await alice.publish(name, "from outside")
        m = await bob.next_of("message", name)
        self.assertEqual((m["offset"], m["data"]), (ack["offset"], "from outside"))
        # alice had not joined: her join now answers the offset she published, and nothing
        # of the channel came before it
        await alice.send_request("join_channel", "j", channel=name)
        before, joined = await alice.until(lambda m: m.get("id") == "j")
        self.assertEqual([b for b in before if b.get("channel") == name], [])
        self.assertEqual((joined["type"], joined["offset"]), ("joined", ack["offset"]))

    @scenario()
    async def test_leave_is_answered_with_left_and_ends_delivery(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        bob = await self.user("bob", caps=ALL_CAPS)
        await alice.join(name)
        await bob.join(name)
        await alice.send('{"type":"leave_channel","id":"bye","channel":"%s"}' % name)
        left = await alice.reply("bye")
        self.assertEqual(left.raw, '{"type":"left","id":"bye","channel":"%s","reason":"client"}'
                         % name)
        ack = await bob.publish(name, "after alice left")
        await bob.next_of("message", name)
        err = await alice.error("leave_channel", "not_joined", channel=name)
        self.assertEqual(err["channel"], name)
        # rejoining: the message published while away is not delivered, only counted
        await alice.send_request("join_channel", "again", channel=name)
        before, joined = await alice.until(lambda m: m.get("id") == "again")
        self.assertEqual([b for b in before if b["type"] == "message"], [])
        self.assertEqual(joined["offset"], ack["offset"])

    @scenario()
    async def test_data_up_to_max_publish_bytes_is_accepted(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        await alice.join(name)
        exact = '"' + "x" * (MAX_PUBLISH - 2) + '"'
        ack = await alice.publish(name, raw_data="   " + exact + "   ")
        m = await alice.next_of("message", name)
        self.assertTrue(m.raw.endswith(',"data":' + exact + "}"))
        self.assertEqual(m["offset"], ack["offset"])
        over = '{"k":"' + "y" * (MAX_PUBLISH - 7) + '"}'
        self.assertEqual(len(over), MAX_PUBLISH + 1)
        id = alice.new_id()
        await alice.send('{"type":"send_message","id":%d,"channel":"%s","data":%s}'
                         % (id, name, over))
        check_error(await alice.reply(id), "message_too_large", request_type="send_message",
                    channel=name)
        await alice.ping()

    @scenario()
    async def test_data_may_nest_31_levels_and_no_more(self):
        name = fresh()
        alice = await self.user("alice", caps=ALL_CAPS)
        await alice.join(name)
        ok = "[" * 31 + "]" * 31
        await alice.publish(name, raw_data=ok)
        self.assertTrue((await alice.next_of("message", name)).raw.endswith(ok + "}"))
        await alice.send('{"type":"send_message","id":5,"channel":"%s","data":%s}'
                         % (name, "[" * 32 + "]" * 32))
        check_error(await alice.next(), "bad_request", has_id=False)
        await alice.ping()


class TestRequestErrors(ChannelsTestCase):
    @scenario()
    async def test_invalid_json_is_bad_request_and_the_connection_stays(self):
        c = await self.user("alice", caps=ALL_CAPS)
        for text in ('{"type":"ping",}', '{"type":"ping"} {"type":"ping"}',
                     '[{"type":"ping"}]', '"ping"', '', '{"type":"ping","id":01}',
                     '{"type":"ping","id":NaN}', '{"type":"ping" /* c */}',
                     '{"type":"ping","type":"ping"}', '{"type":"ping","x":"a\x01b"}',
                     '{"type":"ping","id":"\\ud800"}', "{'type':'ping'}",
                     '{"type":"ping"'):
            await c.send(text)
            m = await c.next(what=f"error for {text!r}")
            check_error(m, "bad_request", has_id=False)
            self.assertNotIn("request_type", m, "nothing could be read from invalid JSON")
        await c.ping()

    @scenario()
    async def test_unknown_and_mistyped_fields_are_bad_request(self):
        name = fresh()
        c = await self.user("alice", caps=ALL_CAPS)
        err = await c.error("join_channel", "bad_request", channel=name,
                            sinse={"offset": 0, "epoch": "abc"})
        self.assertIn("sinse", err["message"])
        for type_, fields in (
                ("join_channel", {"channel": name, "since": {"offset": 0, "epoch": "e",
                                                              "extra": 1}}),
                ("join_channel", {}),
                ("join_channel", {"channel": 5}),
                ("join_channel", {"channel": name, "since": {"offset": 0}}),
                ("join_channel", {"channel": name, "since": {"epoch": "e"}}),
                ("join_channel", {"channel": name, "since": {"offset": -1, "epoch": "e"}}),
                ("join_channel", {"channel": name, "since": {"offset": 1.5, "epoch": "e"}}),
                ("join_channel", {"channel": name, "since": {"offset": 0, "epoch": ""}}),
                ("join_channel", {"channel": name, "since": {"offset": 0, "epoch": "e" * 33}}),
                ("join_channel", {"channel": name, "since": "0"}),
                ("send_message", {"channel": name}),
                ("ping", {"channel": name}),
                ("user_typing", {"channel": name, "typing": "yes"}),
                ("history", {"channel": name, "limit": 0}),
                ("history", {"channel": name, "direction": "sideways"}),
                ("connect", {"token": 5})):     # fields come before the connection state
            err = await c.error(type_, "bad_request", **fields)
            if not isinstance(fields.get("channel"), str):
                self.assertNotIn("channel", err, "no valid channel, none named")
        await c.ping()

    @scenario()
    async def test_a_missing_or_unknown_type(self):
        c = await self.user("alice", caps=ALL_CAPS)
        await c.send('{"id":"t1","channel":"x"}')
        check_error(await c.reply("t1"), "bad_request")
        await c.send('{"type":5,"id":"t2"}')
        check_error(await c.reply("t2"), "bad_request")
        for unknown in ("subscribe", "Ping", "pong", "message", ""):
            await c.send('{"type":"%s","id":"u"}' % unknown)
            check_error(await c.reply("u"), "unknown_type")
        await c.ping()

    @scenario()
    async def test_channel_names_are_checked(self):
        c = await self.user("alice", caps=ALL_CAPS)
        longest = "n" * 255
        await c.join(longest)
        await c.leave(longest)
        await c.send('{"type":"join_channel","id":"e","channel":"esc\\u002daped"}')
        joined = await c.reply("e")
        self.assertEqual(joined["type"], "joined", joined)
        self.assertIn('"channel":"esc-aped"', joined.raw, "names are written unescaped")
        await c.leave("esc-aped")
        await c.join("AZaz09_-.@/=")
        bad_names = ["", "n" * 256, "a b", "a*", "*", "a+b", "a#b", "a?b", "a&b", "a%b",
                     "é", "a\u0000b", "a\nb", "a\\b"]
        for i, bad in enumerate(bad_names):
            if i % 5 == 0:
                c = await self.user("alice", caps=ALL_CAPS)   # stay below 20 strikes
            for type_, fields in (("join_channel", {}), ("send_message", {"data": 1})):
                err = await c.error(type_, "channel_name_invalid", channel=bad, **fields)
                self.assertNotIn("channel", err, "an invalid name is not echoed as channel")
        await c.ping()

    @scenario()
    async def test_unknown_namespaces_are_refused(self):
        c = await self.user("alice", caps=ALL_CAPS)
        for name in ("nope:room", "Chat:room", ":room"):
            err = await c.error("join_channel", "unknown_namespace", channel=name)
            self.assertEqual(err["channel"], name)
            await c.error("send_message", "unknown_namespace", channel=name, data="x")
        await c.join("chat:room-" + fresh())        # configured: fine
        await c.join(fresh("no-colon"))             # the default namespace always exists
        await c.send('{"type":"join_channel","id":1,"channel":"nope:a b"}')
        check_error(await c.reply(1), "channel_name_invalid")   # the name is checked first

    @scenario()
    async def test_joining_twice_and_leaving_unjoined(self):
        name = fresh()
        c = await self.user("alice", caps=ALL_CAPS)
        await c.join(name)
        err = await c.error("join_channel", "already_joined", channel=name)
        self.assertEqual(err["channel"], name)
        await c.leave(name)
        err = await c.error("leave_channel", "not_joined", channel=name)
        self.assertEqual(err["channel"], name)
        await c.join(name)

    @scenario()
    async def test_joins_beyond_max_channels_per_connection(self):
        c = await self.user("alice", caps=ALL_CAPS)
        names = [fresh() for _ in range(MAX_CHANNELS + 1)]
        for name in names[:MAX_CHANNELS]:
            await c.join(name)
        err = await c.error("join_channel", "too_many_channels", channel=names[-1])
        self.assertEqual(err["channel"], names[-1])
        await c.leave(names[0])
        await c.join(names[-1])
        other = await self.user("alice", caps=ALL_CAPS)  # the limit is per connection
        await other.join(names[0])

    @scenario()
    async def test_checks_come_in_the_documented_order(self):
        c = await self.open()
        await c.send('{"type":"bogus","id":1}')
        check_error(await c.reply(1), "unknown_type")               # type before state
        await c.send('{"type":"join_channel","id":2}')
        check_error(await c.reply(2), "bad_request")                # fields before state
        await c.send('{"type":"join_channel","id":3,"channel":"a b"}')
        check_error(await c.reply(3), "not_connected", request_type="join_channel")
        await c.send('{"type":"join_channel","id":null,"channel":"a b"}')
        check_error(await c.next(), "bad_request", has_id=False)    # id before everything
        await c.connect(make_token("alice", caps=ALL_CAPS))
        await c.send('{"type":"leave_channel","id":4,"channel":"a*b"}')
        check_error(await c.reply(4), "channel_name_invalid")       # name before joined
        # 2.5 puts the namespace before the operation, 6.3 lists only not_joined for leave:
        # either is an error for a channel that cannot have been joined
        await c.send('{"type":"leave_channel","id":5,"channel":"nope:x"}')
        err = await c.reply(5)
        self.assertIn(err.get("code"), ("unknown_namespace", "not_joined"), err)
        check_error(err, err["code"], request_type="leave_channel", channel="nope:x")


class TestConnectionEnds(ChannelsTestCase):
    def raw_user(self):
        client = self.connect(path="/?token=" + make_token("alice", caps=ALL_CAPS))
        m = raw_next_json(client)
        self.assertEqual(m["type"], "connected", m)
        return client

    def test_a_binary_message_gets_disconnect_1003(self):
        for connected in (True, False):
            client = self.raw_user() if connected else self.connect()
            if connected:
                raw_send_json(client, {"type": "join_channel", "id": 1, "channel": fresh()})
                self.assertEqual(raw_next_json(client)["type"], "joined")
            client.send_frame(OP_BINARY, b'{"type":"ping"}')
            m = raw_next_json(client)
            self.assertNotIsInstance(m, Close, "a disconnect notice comes before the close")
            check_disconnect(m, 1003, "binary_not_supported", reconnect=False)
            client.expect_close(1003)

    def test_invalid_utf8_closes_1007_without_a_notice(self):
        client = self.raw_user()
        client.send_frame(OP_TEXT, b'{"type":"ping","id":"\xc0\xaf"}')
        client.expect_close(1007)       # the very next frame: no disconnect notice first

    def test_a_message_over_max_message_bytes_closes_1009_without_a_notice(self):
        client = self.raw_user()
        client.send_raw(build_frame(OP_TEXT, b"", length=MAX_MESSAGE + 1))
        client.expect_close(1009)       # the very next frame: no disconnect notice first


if __name__ == "__main__":
    unittest.main()
