"""Recovery, history, presence and typing (docs/protocol.md sections 5.3, 6.5-6.7, 7.9,
7.10 and 8).

Namespaces of the gateway under test:
  chat    presence and typing on, history_size 100 (default), authenticated join/publish
  short   history_size 5: recovery and history reach back only 5 messages
  nohist  history_size 0: no history; recovery only when nothing was missed
  anon    anonymous join and publish, presence and typing on
  plain   authenticated, presence and typing off (the defaults)
recovery_max_messages is 50 and history_page_max 20, so both limits are reached with few
messages; rate limiting is off so setups can publish quickly.

Negative checks ("no user_online was sent", "the sender did not get its own typing")
need no sleeping: events of one channel reach a connection in order, so the check is
"nothing of that kind arrived before the next message of the channel"."""

import itertools
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import (EPOCH_RE, ProtocolTestCase, assert_recent_ms,  # noqa: E402
                             check_message, scenario)

RECOVERY_MAX = 50
PAGE_MAX = 20
_serial = itertools.count(1)


def fresh(namespace):
    return f"{namespace}:c-{os.getpid()}-{next(_serial)}"


def offsets(messages):
    return [m["offset"] for m in messages]


class RecoveryPresenceTestCase(ProtocolTestCase):
    server_args = ("--client-messages-per-s", "0", "--allow-anonymous",
                   "--history-page-max", str(PAGE_MAX),
                   "--recovery-max-messages", str(RECOVERY_MAX),
                   "--namespace.chat.presence=on", "--namespace.chat.typing=on",
                   "--namespace.chat.join=authenticated",
                   "--namespace.chat.publish=authenticated",
                   "--namespace.short.history_size=5", "--namespace.short.join=authenticated",
                   "--namespace.short.publish=authenticated",
                   "--namespace.nohist.history_size=0",
                   "--namespace.nohist.join=authenticated",
                   "--namespace.nohist.publish=authenticated",
                   "--namespace.anon.join=anonymous", "--namespace.anon.publish=anonymous",
                   "--namespace.anon.presence=on", "--namespace.anon.typing=on",
                   "--namespace.plain.join=authenticated",
                   "--namespace.plain.publish=authenticated")

    async def publish_many(self, c, name, count, start=0):
        """Publishes {"n": start..start+count-1} pipelined; returns the acks in order."""
        ids = [await c.send_request("send_message", c.new_id(), channel=name,
                                    data={"n": start + i}) for i in range(count)]
        acks = [await c.reply(i) for i in ids]
        for a in acks:
            self.assertEqual(a["type"], "ack", a)
        return acks


class TestRecovery(RecoveryPresenceTestCase):
    @scenario()
    async def test_rejoining_with_since_replays_exactly_the_missed_messages(self):
        name = fresh("chat")
        bob = await self.user("bob")
        live = {}
        await bob.join(name)
        alice = await self.user("alice")
        epoch = (await alice.join(name))["epoch"]
        await self.publish_many(bob, name, 3)
        for _ in range(3):
            m = await alice.next_of("message", name)
            live[m["offset"]] = m
        self.assertEqual(sorted(live), [1, 2, 3])
        await alice.close()                                  # the network drops
        await self.publish_many(bob, name, 4, start=3)       # offsets 4..7 are missed
        for _ in range(7):
            m = await bob.next_of("message", name)
            live[m["offset"]] = m

        again = await self.user("alice")
        joined = await again.join(name, since={"offset": 3, "epoch": epoch})
        self.assertEqual((joined["epoch"], joined["offset"], joined["recovered"]),
                         (epoch, 7, True), joined)
        self.assertEqual(offsets(joined["messages"]), [4, 5, 6, 7])
        for m in joined["messages"]:
            check_message(m, name, epoch, user_id="bob")
            self.assertEqual(m, dict(live[m["offset"]]), "a replayed message is exactly "
                             "the live one")
        # live delivery continues right after the replay: no duplicate, no hole
        await self.publish_many(bob, name, 1, start=7)
        m = await again.next_of("message", name)
        self.assertEqual((m["offset"], m["data"]), (8, {"n": 7}))

    @scenario()
    async def test_since_edges_that_still_recover(self):
        name = fresh("chat")
        bob = await self.user("bob")
        epoch = (await bob.join(name))["epoch"]
        acks = await self.publish_many(bob, name, 7)
        alice = await self.user("alice")
        joined = await alice.join(name, since={"offset": 7, "epoch": epoch})
        self.assertEqual((joined["recovered"], joined["offset"], joined["messages"]),
                         (True, 7, []), "nothing missed is a successful recovery")
        await alice.leave(name)
        joined = await alice.join(name, since={"offset": 0, "epoch": epoch})
        self.assertEqual(joined["recovered"], True, joined)
        self.assertEqual(offsets(joined["messages"]), [1, 2, 3, 4, 5, 6, 7])
        self.assertEqual([m["timestamp"] for m in joined["messages"]],
                         [a["timestamp"] for a in acks])
        self.assertEqual([m["data"] for m in joined["messages"]], [{"n": i} for i in range(7)])

    @scenario()
    async def test_since_that_cannot_be_honoured_is_not_recovered(self):
        name = fresh("chat")
        bob = await self.user("bob")
        epoch = (await bob.join(name))["epoch"]
        await self.publish_many(bob, name, 5)
        alice = await self.user("alice")
        for since in ({"offset": 3, "epoch": "not" + epoch[:20]},      # wrong epoch
                      {"offset": 6, "epoch": epoch},                   # beyond the offset
                      None):                                           # no since at all
            joined = await alice.join(name, since=since)
            self.assertEqual((joined["epoch"], joined["offset"], joined["recovered"],
                              joined["messages"]), (epoch, 5, False, []), f"since {since}")
            await alice.leave(name)

    @scenario()
    async def test_history_too_short_is_not_recovered(self):
        name = fresh("short")                                # history_size 5
        bob = await self.user("bob")
        epoch = (await bob.join(name))["epoch"]
        await self.publish_many(bob, name, 12)               # 8..12 retained
        alice = await self.user("alice")
        for since_offset, recovered in ((2, False), (6, False), (7, True), (11, True)):
            joined = await alice.join(name, since={"offset": since_offset, "epoch": epoch})
            self.assertEqual((joined["offset"], joined["recovered"]), (12, recovered),
                             f"since offset {since_offset}: {joined!r}")
            expected = list(range(since_offset + 1, 13)) if recovered else []
            self.assertEqual(offsets(joined["messages"]), expected)
            await alice.leave(name)

    @scenario()
    async def test_more_than_recovery_max_messages_is_not_recovered(self):
        name = fresh("chat")
        bob = await self.user("bob")
        epoch = (await bob.join(name))["epoch"]
        await self.publish_many(bob, name, RECOVERY_MAX + 10)
        alice = await self.user("alice")
        joined = await alice.join(name, since={"offset": 9, "epoch": epoch})
        self.assertEqual((joined["recovered"], joined["messages"]), (False, []),
                         f"{RECOVERY_MAX + 1} missed messages exceed recovery_max_messages")
        await alice.leave(name)
        joined = await alice.join(name, since={"offset": 10, "epoch": epoch})
        self.assertEqual(joined["recovered"], True, "exactly recovery_max_messages")
        self.assertEqual(offsets(joined["messages"]), list(range(11, RECOVERY_MAX + 11)))

    @scenario()
    async def test_a_channel_without_history_recovers_only_when_nothing_was_missed(self):
        name = fresh("nohist")
        bob = await self.user("bob")
        epoch = (await bob.join(name))["epoch"]
        await self.publish_many(bob, name, 3)
        alice = await self.user("alice")
        joined = await alice.join(name, since={"offset": 3, "epoch": epoch})
        self.assertEqual((joined["recovered"], joined["offset"], joined["messages"]),
                         (True, 3, []))
        await alice.leave(name)
        joined = await alice.join(name, since={"offset": 2, "epoch": epoch})
        self.assertEqual((joined["recovered"], joined["offset"], joined["messages"]),
                         (False, 3, []))


class TestHistory(RecoveryPresenceTestCase):
    async def channel_with(self, namespace, count):
        """A channel with `count` messages published by bob (not joined); returns
        (name, epoch, acks)."""
        name = fresh(namespace)
        bob = await self.user("bob")
        acks = await self.publish_many(bob, name, count)
        return name, acks[0]["epoch"], acks

    async def page(self, c, name, **fields):
        m = await c.call("history", "history", channel=name, **fields)
        self.assertEqual(m["channel"], name)
        for field in ("epoch", "offset", "oldest", "messages", "more"):
            self.assertIn(field, m)
        for msg in m["messages"]:
            check_message(msg, name, m["epoch"], user_id="bob")
        return m

    @scenario()
    async def test_paging_forward(self):
        name, epoch, acks = await self.channel_with("chat", 25)
        alice = await self.user("alice")                     # joining is not required
        m = await self.page(alice, name, limit=10)
        self.assertEqual((m["epoch"], m["offset"], m["oldest"], m["more"]), (epoch, 25, 1, True))
        self.assertEqual(offsets(m["messages"]), list(range(1, 11)))
        self.assertEqual([x["timestamp"] for x in m["messages"]],
                         [a["timestamp"] for a in acks[:10]])
        self.assertEqual([x["data"] for x in m["messages"]], [{"n": i} for i in range(10)])
        m = await self.page(alice, name, limit=10, direction="forward",
                            since={"offset": 10, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(11, 21)), True))
        m = await self.page(alice, name, limit=10, since={"offset": 20, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(21, 26)), False))
        # a page that ends exactly at the newest message: nothing more
        m = await self.page(alice, name, limit=10, since={"offset": 15, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(16, 26)), False))

    @scenario()
    async def test_paging_backward(self):
        name, epoch, _ = await self.channel_with("chat", 25)
        alice = await self.user("alice")
        m = await self.page(alice, name, limit=10, direction="backward")
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(25, 15, -1)), True))
        m = await self.page(alice, name, limit=10, direction="backward",
                            since={"offset": 16, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(15, 5, -1)), True))
        m = await self.page(alice, name, limit=10, direction="backward",
                            since={"offset": 6, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(5, 0, -1)), False))
        m = await self.page(alice, name, limit=10, direction="backward",
                            since={"offset": 11, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), (list(range(10, 0, -1)), False))

    @scenario()
    async def test_page_limits_and_empty_pages(self):
        name, epoch, _ = await self.channel_with("chat", 25)
        alice = await self.user("alice")
        # the default limit (50) is capped by history_page_max (20 here)
        m = await self.page(alice, name)
        self.assertEqual((offsets(m["messages"]), m["more"]),
                         (list(range(1, PAGE_MAX + 1)), True))
        m = await self.page(alice, name, limit=PAGE_MAX)
        self.assertEqual((offsets(m["messages"]), m["more"]),
                         (list(range(1, PAGE_MAX + 1)), True))
        await alice.error("history", "bad_request", channel=name, limit=PAGE_MAX + 1)
        await alice.error("history", "bad_request", channel=name, limit=0)
        for since_offset, direction in ((25, "forward"), (30, "forward"), (1, "backward")):
            m = await self.page(alice, name, direction=direction,
                                since={"offset": since_offset, "epoch": epoch})
            self.assertEqual((m["messages"], m["more"], m["offset"]), ([], False, 25),
                             f"since {since_offset} {direction}")
        err = await alice.error("history", "epoch_mismatch", channel=name,
                                since={"offset": 3, "epoch": "x" + epoch[:20]})
        self.assertEqual(err["channel"], name)

    @scenario()
    async def test_a_channel_that_does_not_exist_has_an_empty_history(self):
        alice = await self.user("alice")
        m = await self.page(alice, fresh("chat"))
        self.assertEqual((m["offset"], m["oldest"], m["messages"], m["more"]), (0, 1, [], False))
        self.assertRegex(m["epoch"], EPOCH_RE)

    @scenario()
    async def test_history_starts_at_the_oldest_retained_message(self):
        name, epoch, _ = await self.channel_with("short", 12)   # 8..12 retained
        alice = await self.user("alice")
        m = await self.page(alice, name)
        self.assertEqual((m["oldest"], m["offset"], offsets(m["messages"]), m["more"]),
                         (8, 12, [8, 9, 10, 11, 12], False))
        m = await self.page(alice, name, direction="backward",
                            since={"offset": 9, "epoch": epoch})
        self.assertEqual((offsets(m["messages"]), m["more"]), ([8], False))

    @scenario()
    async def test_history_needs_retention_and_the_join_permission(self):
        name, _, _ = await self.channel_with("nohist", 2)
        alice = await self.user("alice")
        await alice.error("history", "history_disabled", channel=name)
        guest = await self.anonymous()
        await guest.error("history", "not_authorized", channel=fresh("chat"))


class TestPresence(RecoveryPresenceTestCase):
    async def join_and_see_online(self, c, name, user_id):
        """Joins; the joining connection's own user_online comes after its `joined`."""
        await c.send_request("join_channel", "j", channel=name)
        before, joined = await c.until(lambda m: m.get("id") == "j")
        self.assertEqual(joined["type"], "joined", joined)
        self.assertNotIn(("user_online", user_id),
                         [(m["type"], m.get("user_id")) for m in before])
        online = await c.next_of("user_online", name, user_id=user_id)
        assert_recent_ms(online["timestamp"])
        return joined

    async def events_before_marker(self, publisher, readers, name, text):
        """publisher publishes `text` to `name`; returns, per reader, the presence events
        that arrived before that message."""
        await publisher.publish(name, text)
        result = []
        for c in readers:
            before, _ = await c.until(lambda m: m["type"] == "message" and
                                      m.get("channel") == name and m["data"] == text)
            result.append([(m["type"], m["user_id"]) for m in before
                           if m["type"] in ("user_online", "user_offline")])
        return result

    async def presence(self, c, name):
        m = await c.call("presence", "presence", channel=name)
        self.assertEqual(m["channel"], name)
        self.assertEqual(m["truncated"], False)
        self.assertEqual(m["count"], len(m["members"]))
        ids = [x["user_id"] for x in m["members"]]
        self.assertEqual(ids, sorted(ids, key=lambda u: u.encode()), "sorted by user_id")
        return {x["user_id"]: (x["connections"], x["joined_at"]) for x in m["members"]}

    @scenario()
    async def test_snapshot_and_online_offline_events(self):
        name = fresh("chat")
        alice1 = await self.user("alice", label="alice-1")
        await self.join_and_see_online(alice1, name, "alice")
        members = await self.presence(alice1, name)
        self.assertEqual(list(members), ["alice"])
        self.assertEqual(members["alice"][0], 1)
        alice_since = members["alice"][1]
        assert_recent_ms(alice_since)

        bob = await self.user("bob")
        await self.join_and_see_online(bob, name, "bob")
        await alice1.next_of("user_online", name, user_id="bob")
        members = await self.presence(bob, name)
        self.assertEqual(members, {"alice": (1, alice_since), "bob": (1, members["bob"][1])})
        self.assertGreaterEqual(members["bob"][1], alice_since)

        # a second connection of a present user: no event, two connections
        alice2 = await self.user("alice", label="alice-2")
        await alice2.join(name)
        seen = await self.events_before_marker(bob, [bob, alice1, alice2], name, "m1")
        self.assertEqual(seen, [[], [], []], "a further connection emits nothing")
        members = await self.presence(alice2, name)
        self.assertEqual(members["alice"], (2, alice_since), "joined_at is the earliest")

        # one of the two leaves: still online
        await alice1.leave(name)
        seen = await self.events_before_marker(bob, [bob, alice2], name, "m2")
        self.assertEqual(seen, [[], []])
        members = await self.presence(bob, name)
        self.assertEqual(members["alice"][0], 1)
        self.assertGreaterEqual(members["alice"][1], alice_since)

        # the last one closes: offline, to the remaining subscribers
        await alice2.close()
        offline = await bob.next_of("user_offline", name, user_id="alice")
        assert_recent_ms(offline["timestamp"])
        self.assertEqual(list(await self.presence(bob, name)), ["bob"])

    @scenario()
    async def test_an_abrupt_close_and_a_leave_both_emit_user_offline(self):
        name = fresh("chat")
        bob = await self.user("bob")
        await self.join_and_see_online(bob, name, "bob")
        carol = await self.user("carol")
        await self.join_and_see_online(carol, name, "carol")
        dave = await self.user("dave")
        await self.join_and_see_online(dave, name, "dave")
        carol.abort()                                        # TCP reset, no close frame
        await bob.next_of("user_offline", name, user_id="carol")
        await dave.leave(name)
        await bob.next_of("user_offline", name, user_id="dave")
        self.assertEqual(list(await self.presence(bob, name)), ["bob"])

    @scenario()
    async def test_anonymous_subscribers_are_not_members(self):
        name = fresh("anon")
        guest = await self.anonymous()
        await guest.join(name)
        alice = await self.user("alice")
        await self.join_and_see_online(alice, name, "alice")
        await guest.next_of("user_online", name, user_id="alice")
        self.assertEqual(list(await self.presence(guest, name)), ["alice"])
        await guest.leave(name)
        seen = await self.events_before_marker(alice, [alice], name, "after the guest left")
        self.assertEqual(seen, [[]], "an anonymous leave emits no user_offline")

    @scenario()
    async def test_presence_needs_the_feature_and_the_join_permission(self):
        alice = await self.user("alice")
        empty = await self.presence(alice, fresh("chat"))       # not joined, no channel
        self.assertEqual(empty, {})
        err = await alice.error("presence", "presence_disabled", channel=fresh("plain"))
        self.assertIn("channel", err)
        guest = await self.anonymous()
        await guest.error("presence", "not_authorized", channel=fresh("chat"))


class TestTyping(RecoveryPresenceTestCase):
    @scenario()
    async def test_typing_is_relayed_to_the_others_but_not_to_the_sender(self):
        name = fresh("chat")
        alice1 = await self.user("alice", label="alice-1")
        alice2 = await self.user("alice", label="alice-2")
        bob = await self.user("bob")
        for c in (alice1, alice2, bob):
            await c.join(name)
        started = time.time() * 1000
        await alice1.send({"type": "user_typing", "id": "t1", "channel": name})
        for c in (bob, alice2):                    # the user's other connection included
            m = await c.next_of("user_typing", name)
            self.assertEqual((m["user_id"], m["typing"]), ("alice", True))
            self.assertNotIn("id", m)
            self.assertGreaterEqual(m["timestamp"], started - 1000)
        await alice1.send({"type": "user_typing", "channel": name, "typing": False})
        m = await bob.next_of("user_typing", name)
        self.assertEqual((m["user_id"], m["typing"]), ("alice", False))
        # the sender: no reply to a successful user_typing, and no copy of its own events
        # before its next message of the channel
        ack = await alice1.publish(name, "sent")
        before, _ = await alice1.until(lambda m: m["type"] == "message" and
                                       m["offset"] == ack["offset"])
        self.assertEqual([m for m in before if m["type"] == "user_typing" or "id" in m], [])

    @scenario()
    async def test_typing_errors(self):
        alice = await self.user("alice")
        joined_chat = fresh("chat")
        await alice.join(joined_chat)
        err = await alice.error("user_typing", "not_joined", channel=fresh("chat"))
        self.assertIn("channel", err)
        plain = fresh("plain")
        await alice.join(plain)
        await alice.error("user_typing", "typing_disabled", channel=plain)
        guest = await self.anonymous()
        name = fresh("anon")
        await guest.join(name)
        err = await guest.error("user_typing", "not_authorized", channel=name)
        self.assertEqual(err["channel"], name)
        await alice.ping()


if __name__ == "__main__":
    unittest.main()
