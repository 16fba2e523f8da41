"""Adversarial scenarios for the channel fan-out and the client session (review of
gateway/hub*.c and gateway/session.c). Each test reproduces one bug found in review: it
fails (the gateway crashes, AddressSanitizer reports, or the protocol is broken) before
the fix named in its docstring.

Most scenarios run on one worker, where every channel's owner is the worker of its
subscribers: requests are handled at once, so a reply or a delivery re-enters the local
side while the caller is still on the stack. Several requests written in one TCP write are
read in one receive and handled in one loop turn, before any send queue is flushed, so
"the send queue is over send_queue_bytes_max" happens deterministically, without relying
on the kernel's socket buffers."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import (ALL_CAPS, ProtocolTestCase, compact, raw_next_json,  # noqa: E402
                             scenario)
from tidegate_harness import OP_TEXT, Close, RawClient, build_frame  # noqa: E402
from tidegate_tokens import make_token  # noqa: E402

QUEUE_MAX = 4096            # send_queue_bytes_max: the smallest allowed
BIG_DATA = "x" * 5000       # one message of this data is more than QUEUE_MAX


def frames(*messages):
    """The masked text frames of `messages` (dicts), concatenated for one write."""
    return b"".join(build_frame(OP_TEXT, compact(m).encode()) for m in messages)


def raw_user(port, sub, caps=ALL_CAPS):
    """A RawClient of user `sub`, token in the URL, past its `connected`."""
    client = RawClient.connect(port, path="/?token=" + make_token(sub, caps=caps))
    m = raw_next_json(client)
    assert m["type"] == "connected", m
    return client


def raw_until_close(client, timeout=10.0):
    """Every JSON message up to the Close (or the end of TCP); returns (messages, Close or
    None)."""
    got = []
    while True:
        try:
            event = raw_next_json(client, timeout)
        except Exception:  # TCP ended without a close frame
            return got, None
        if isinstance(event, Close):
            return got, event
        got.append(event)


class ReviewCase(ProtocolTestCase):
    """A new server per scenario class, so a crash is blamed on the scenario that caused
    it."""

    def raw(self, sub):
        client = raw_user(self.server.ws_port, sub)
        self.addCleanup(client.abort)
        return client


class OneWorker(ReviewCase):
    """One worker: every channel's owner is the worker of its subscribers."""
    workers = 1
    server_args = ("--client-messages-per-s", "0",
                   "--send-queue-bytes-max", str(QUEUE_MAX),
                   "--namespace.chat.join=authenticated",
                   "--namespace.chat.publish=authenticated",
                   "--namespace.pres.join=authenticated",
                   "--namespace.pres.publish=authenticated",
                   "--namespace.pres.presence=on")

class JoinedEndsSlowConnection(OneWorker):
    @scenario()
    async def test_joined_reply_that_ends_a_slow_connection(self):
        """on_joined (hub_local.c) sends `joined`, which finds the send queue over the limit
        and ends the connection as a slow consumer; hub_conn_end frees the subscription,
        which on_joined then reads (s->leave_requested): use after free.

        A history page bigger than the send queue is queued first, and a join in the same
        write is answered in the same loop turn."""
        alice = await self.user("alice", caps=ALL_CAPS)
        await alice.publish("chat:big", BIG_DATA)
        bob = self.raw("bob")
        bob.send_raw(frames({"type": "history", "id": 1, "channel": "chat:big"},
                            {"type": "join_channel", "id": 2, "channel": "chat:other"}))
        got, close = raw_until_close(bob)
        self.assertEqual([m["type"] for m in got], ["history", "disconnect"], got)
        self.assertEqual(got[1]["code"], 1008)
        self.assertEqual(close.code if close else None, 1008)
        self.server.assert_running()
        await alice.ping()


class NestedDeliveryEndsChannel(OneWorker):
    @scenario()
    async def test_delivery_that_ends_two_slow_presence_members(self):
        """local_deliver walks a channel's subscriptions; the first is a slow consumer and
        its end sends a leave to the owner (this worker), whose user_offline event is
        delivered to the same channel at once, inside the walk. That nested delivery ends
        the second slow subscriber, frees its subscription (the walk's saved `next`) and,
        the channel being empty, the local channel itself: use after free in the outer
        walk.

        Two messages bigger than the send queue, written in one write, reach both
        subscribers in one loop turn: the second finds both queues over the limit."""
        name = "pres:room"
        a = await self.user("member-a", caps=ALL_CAPS)
        b = await self.user("member-b", caps=ALL_CAPS)
        await a.join(name)
        await b.join(name)
        publisher = self.raw("publisher")
        publisher.send_raw(frames(
            {"type": "send_message", "id": 1, "channel": name, "data": BIG_DATA},
            {"type": "send_message", "id": 2, "channel": name, "data": BIG_DATA}))
        acks = [raw_next_json(publisher), raw_next_json(publisher)]
        self.assertEqual([m["type"] for m in acks], ["ack", "ack"], acks)
        for member in (a, b):
            await member.expect_disconnect(1008, "slow_consumer", first=False)
        self.server.assert_running()
        c = await self.user("member-c", caps=ALL_CAPS)
        await c.join(name)


class TwoWorkers(ReviewCase):
    """Two workers: about half of the channels are owned by the other worker, so a join
    stays pending until its JOINED comes back through the mailbox."""
    workers = 2
    server_args = ("--client-messages-per-s", "0",
                   "--namespace.chat.join=authenticated",
                   "--namespace.chat.publish=authenticated")


class LeaveWhileJoining(TwoWorkers):
    @scenario()
    async def test_leave_sent_right_after_join_is_answered_after_joined(self):
        """A leave that arrives while the join is in flight is answered once `joined` is
        out (on_joined, hub_local.c). on_joined freed the subscription (sub_release) and
        then read the leave's id from it (s->leave_id): use after free, and a `left` whose
        id may be garbage."""
        names = [f"chat:pending-{os.getpid()}-{i}" for i in range(16)]
        bob = self.raw("bob")
        requests = []
        for i, name in enumerate(names):
            requests.append({"type": "join_channel", "id": f"j{i}", "channel": name})
            requests.append({"type": "leave_channel", "id": f"l{i}", "channel": name})
        bob.send_raw(frames(*requests))
        got = [raw_next_json(bob) for _ in range(2 * len(names))]
        for i, name in enumerate(names):
            mine = [m for m in got if m.get("channel") == name]
            self.assertEqual([(m["type"], m.get("id")) for m in mine],
                             [("joined", f"j{i}"), ("left", f"l{i}")], got)
        bob.send_raw(frames({"type": "ping", "id": "p"}))
        self.assertEqual(raw_next_json(bob)["type"], "pong")


class JoinLeaveJoin(TwoWorkers):
    @scenario()
    async def test_join_leave_join_pipelined_takes_effect_in_order(self):
        """Requests naming one channel take effect in order (protocol.md 2.6): join, leave,
        join sent together answer joined, left, joined. While the first join waited for a
        channel owned by the other worker, the second join found the leaving subscription
        and was answered already_joined at once, ahead of the first join's reply."""
        names = [f"chat:rejoin-{os.getpid()}-{i}" for i in range(16)]
        bob = self.raw("bob")
        requests = []
        for i, name in enumerate(names):
            requests += [{"type": "join_channel", "id": f"a{i}", "channel": name},
                         {"type": "leave_channel", "id": f"l{i}", "channel": name},
                         {"type": "join_channel", "id": f"b{i}", "channel": name}]
        bob.send_raw(frames(*requests))
        got = [raw_next_json(bob) for _ in range(3 * len(names))]
        for i, name in enumerate(names):
            mine = [(m["type"], m.get("id")) for m in got if m.get("id", "")[1:] == str(i)]
            self.assertEqual(mine, [("joined", f"a{i}"), ("left", f"l{i}"),
                                    ("joined", f"b{i}")], got)
        # the second subscription is live: a message published now reaches it
        alice = await self.user("alice", caps=ALL_CAPS)
        ack = await alice.publish(names[0], {"n": 1})
        m = raw_next_json(bob)
        self.assertEqual((m["type"], m["channel"], m["offset"]), ("message", names[0],
                                                                   ack["offset"]), m)


class HistoryLimitIsAFieldRange(ReviewCase):
    workers = 1
    server_args = ("--history-page-max", "20", "--allow-anonymous")

    @scenario()
    async def test_history_limit_over_page_max_is_bad_request_first(self):
        """`limit` over history_page_max is a field out of range: step 5 of protocol.md
        2.5, answered bad_request before the connection state (6) and the channel name
        and namespace (7) are looked at. It was checked after step 7."""
        c = await self.open()
        m = await c.request("history", channel="nowhere:x", limit=21)
        self.assertEqual((m["type"], m.get("code")), ("error", "bad_request"), m)
        await c.connect(None)
        m = await c.request("history", channel="nowhere:x", limit=21)
        self.assertEqual((m["type"], m.get("code")), ("error", "bad_request"), m)
        m = await c.request("history", channel="bad name", limit=21)
        self.assertEqual((m["type"], m.get("code")), ("error", "bad_request"), m)
        m = await c.request("history", channel="nowhere:x", limit=20)
        self.assertEqual((m["type"], m.get("code")), ("error", "unknown_namespace"), m)


class ShutdownWithRequestsInFlight(TwoWorkers):
    workers = 3
    server_args = TwoWorkers.server_args + ("--close-timeout", "1s")

    @scenario()
    async def test_sigterm_with_joins_and_publishes_between_workers(self):
        """SIGTERM while joins, leaves, publishes and deliveries are in flight between
        workers, some of them for connections already reset: every worker stops, what is
        left in the lanes is freed, and the exit is clean (no LeakSanitizer report, exit
        0). The clients that stay never answer the close, so this takes close_timeout (1 s here)."""
        clients = [self.raw(f"user-{i}") for i in range(6)]
        for k, client in enumerate(clients):
            requests = []
            for i in range(40):
                name = f"chat:stop-{os.getpid()}-{i}"
                requests += [{"type": "join_channel", "id": f"j{i}", "channel": name},
                             {"type": "send_message", "id": f"m{i}", "channel": name,
                              "data": {"k": k, "i": i}}]
                if i % 3 == 0:
                    requests.append({"type": "leave_channel", "id": f"l{i}", "channel": name})
            client.send_raw(frames(*requests))
        for client in clients[::2]:
            client.abort()  # gone with its requests in flight
        self.server.stop()

    def tearDown(self):
        pass  # the scenario stopped the server itself (stop() asserted the clean exit)


if __name__ == "__main__":
    unittest.main()
