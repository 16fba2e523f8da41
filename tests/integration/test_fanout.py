"""Fan-out across workers (docs/protocol.md sections 5.1 and 5.2): many subscriber
connections, spread over the workers by SO_REUSEPORT, and several publishers on their own
connections publishing to three channels at once. Every subscriber must receive every
message of its channels exactly once, with offsets increasing by exactly 1 from its
`joined.offset`, each publisher's messages in the order they were sent, and each message
carrying the offset, epoch and timestamp of the `ack` its publisher got.

The same scenario runs with 2 and with 3 workers; the metrics prove every worker accepted
some of the connections, so channel owners and subscribers sit on different workers.
Rate limiting is off (client_messages_per_s = 0): the publishers pipeline hundreds of
messages."""

import asyncio
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import ProtocolTestCase, check_message, scenario  # noqa: E402

SUBSCRIBER_CONNECTIONS = 48
PUBLISHERS = 3
MESSAGES_PER_PUBLISHER = 330        # 110 to each channel
CHANNEL_COUNT = 3
DELIVERY_TIMEOUT_S = 40


class FanoutScenario:
    """The scenario; mixed into one test case per worker count."""

    server_args = ("--client-messages-per-s", "0",
                   "--namespace.fan.join=authenticated",
                   "--namespace.fan.publish=authenticated")

    def channels_of(self, i):
        """Subscriber connection i joins one or two of the channels: every channel gets
        subscribers, and some connections carry two subscriptions."""
        first = i % CHANNEL_COUNT
        names = [self.channels[first]]
        if i % 2 == 0:
            names.append(self.channels[(first + 1) % CHANNEL_COUNT])
        return names

    async def open_subscriber(self, i, slots):
        async with slots:
            # half present the token in the URL, half by `connect`
            c = await self.user(f"sub-{i}", in_url=(i % 2 == 1), label=f"subscriber {i}")
            joined = {}
            for name in self.channels_of(i):
                joined[name] = await c.join(name)
            return c, joined

    async def publish_all(self, p, c):
        """Pipelines every message of publisher p, then collects the acks by id."""
        ids = []
        for k in range(MESSAGES_PER_PUBLISHER):
            name = self.channels[k % CHANNEL_COUNT]
            ids.append((k, await c.send_request("send_message", c.new_id(), channel=name,
                                                data={"p": p, "k": k, "pad": "x" * (k % 97)})))
        acks = {}
        for k, id in ids:
            ack = await c.reply(id, timeout=DELIVERY_TIMEOUT_S)
            self.assertEqual(ack["type"], "ack", f"publisher {p} message {k}: {ack!r}")
            self.assertEqual(ack["channel"], self.channels[k % CHANNEL_COUNT])
            acks[(p, k)] = ack
        return acks

    async def receive_until_end(self, c, names):
        """Every message of the joined channels up to each channel's end marker."""
        got = {name: [] for name in names}
        open_names = set(names)
        while open_names:
            m = await c.next_of("message", timeout=DELIVERY_TIMEOUT_S)
            self.assertIn(m["channel"], got, f"{c.label} got a message of a channel it "
                          f"did not join: {m!r}")
            got[m["channel"]].append(m)
            if m["data"] == {"end": True}:
                open_names.discard(m["channel"])
        return got

    def check_channel(self, label, name, joined, received, acks, end_ack):
        epoch = joined["epoch"]
        base = joined["offset"]
        offsets = [m["offset"] for m in received]
        self.assertEqual(offsets, list(range(base + 1, end_ack["offset"] + 1)),
                         f"{label} on {name}: offsets must go up by 1 from {base + 1}")
        seen = set()
        last_k = {}
        for m in received[:-1]:
            check_message(m, name, epoch)
            key = (m["data"]["p"], m["data"]["k"])
            self.assertNotIn(key, seen, f"{label} got {key} twice on {name}")
            seen.add(key)
            self.assertEqual(m["user_id"], f"pub-{key[0]}")
            self.assertGreater(key[1], last_k.get(key[0], -1),
                               f"{label}: publisher {key[0]}'s order broken on {name}")
            last_k[key[0]] = key[1]
            ack = acks[key]
            self.assertEqual((m["offset"], m["epoch"], m["timestamp"]),
                             (ack["offset"], ack["epoch"], ack["timestamp"]),
                             f"{label}: message {key} differs from its ack")
        expected = {key for key, ack in acks.items() if ack["channel"] == name}
        self.assertEqual(seen, expected, f"{label} on {name}: missing "
                         f"{sorted(expected - seen)[:10]}")
        self.assertEqual(received[-1]["offset"], end_ack["offset"])

    @scenario(timeout_s=90)
    async def test_every_subscriber_gets_every_message_once_in_order(self):
        self.channels = [f"fan:w{self.workers}-{i}" for i in range(CHANNEL_COUNT)]
        before = await asyncio.to_thread(self.server.metrics)
        slots = asyncio.Semaphore(16)
        subscribers = await asyncio.gather(*(self.open_subscriber(i, slots)
                                             for i in range(SUBSCRIBER_CONNECTIONS)))
        publishers = []
        for p in range(PUBLISHERS):
            c = await self.user(f"pub-{p}", label=f"publisher {p}")
            # publishers subscribe too: they must get their own messages like the others
            publishers.append((c, {name: await c.join(name) for name in self.channels}))

        epochs = {}
        for c, joined in subscribers + publishers:
            for name, j in joined.items():
                self.assertEqual(epochs.setdefault(name, j["epoch"]), j["epoch"],
                                 f"two epochs for {name} at once")

        # subscribers read from now on; a publisher's connection is read by publish_all
        # (its messages wait in its inbox) and then by receive_until_end, never by both
        receivers = [asyncio.ensure_future(self.receive_until_end(c, list(joined)))
                     for c, joined in subscribers]
        acks = {}
        for part in await asyncio.gather(*(self.publish_all(p, c)
                                           for p, (c, _) in enumerate(publishers))):
            acks.update(part)
        # every publisher's acks on one channel come in the order it published
        for p in range(PUBLISHERS):
            for name in self.channels:
                offsets = [a["offset"] for (q, k), a in sorted(acks.items())
                           if q == p and a["channel"] == name]
                self.assertEqual(offsets, sorted(offsets), f"publisher {p} acks on {name}")
        # all acks are in: an end marker on each channel now has its highest offset
        end_acks = {name: await publishers[0][0].publish(name, {"end": True})
                    for name in self.channels}
        receivers += [asyncio.ensure_future(self.receive_until_end(c, self.channels))
                      for c, _ in publishers]
        results = await asyncio.gather(*receivers)

        for (c, joined), got in zip(subscribers + publishers, results):
            for name in joined:
                self.check_channel(c.label, name, joined[name], got[name], acks,
                                   end_acks[name])
        after = await asyncio.to_thread(self.server.metrics)
        for worker in range(self.workers):
            accepted = (after.value("tidegate_connections_accepted_total", worker=worker) -
                        before.value("tidegate_connections_accepted_total", worker=worker))
            self.assertGreater(accepted, 0, f"worker {worker} accepted none of the "
                               f"{SUBSCRIBER_CONNECTIONS + PUBLISHERS} connections")


class TestFanoutTwoWorkers(FanoutScenario, ProtocolTestCase):
    workers = 2


class TestFanoutThreeWorkers(FanoutScenario, ProtocolTestCase):
    workers = 3


if __name__ == "__main__":
    unittest.main()
