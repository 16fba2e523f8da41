"""Durable publishes survive the writer's database connections being killed and the gateway
being restarted (issue 6, docs/storage.md "Durability and callbacks" and "Restarts").

100,000 durable publishes (100 bytes of data each, every one different) go from several
connections, each with many requests in flight, into channels of the durable namespace
`orders` spread over both workers. Meanwhile:

- the writers' backends are killed with pg_terminate_backend from a separate psql
  connection, several times. The gateway names its links in pg_stat_activity
  (`tidegate writer N`, `tidegate reader N`), so the writers are found by name and the
  readers' links are left alone;
- the writers' queues are small (postgres_queue_messages 500 per worker, less than the
  publishes in flight), so while commits are held (below) durable publishes are refused
  with storage_unavailable; those are sent again after a short pause;
- the gateway is stopped once with SIGTERM (drain window 1 s) and started again on the
  same database. Clients reconnect and send again, with the same data, whatever was not
  acknowledged when their connection closed (or was refused with storage_unavailable).

Then, from the table:

- at each kill, every message acknowledged so far is already in the table (a durable ack
  comes only after its commit; a channel's acks come in offset order). To make that
  checkable, another session first holds an EXCLUSIVE lock on the table for a second, so
  no batch commits during the check; the writers are then killed while their batch waits
  for the lock;
- every acknowledged message is stored exactly once at the (channel, epoch, offset) of its
  `ack`, with its data byte for byte;
- per channel and epoch the stored offsets are 1..N without gaps or duplicates;
- the first process's writers marked their runs drained at the stop, and each channel kept
  its epoch across the restart, continuing at its last stored offset. (The gateway resumes
  a stream only while the worker's writer queue is empty, so the test joins every channel
  once before the publishers come back; a channel first touched under load may rightly
  start a new epoch.)
- every stored row is one of the messages sent; rows beyond the acknowledged ones are only
  messages that were stored but whose ack was lost with a connection, then sent again.

How many publishes were refused, unacknowledged at the restart and stored twice that way is
printed (stderr) with the run's duration and the number of backends killed."""

import asyncio
import collections
import json
import os
import sys
import time
import unittest

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import ALL_CAPS, ProtocolTestCase, make_token, scenario  # noqa: E402
from tidegate_pg import PgGatewayMixin  # noqa: E402

TOTAL = 100_000
CONNECTIONS = 4
CHANNELS_PER_CONNECTION = 2
WINDOW = 300          # requests in flight per connection
QUEUE = 500           # postgres_queue_messages: smaller than what is in flight per worker
REFUSED_PAUSE_S = 0.01
DATA_BYTES = 100
# Fractions of TOTAL acknowledged at which the writers' backends are killed, and the one at
# which the gateway restarts.
KILL_AT = (0.08, 0.2, 0.32, 0.62, 0.75, 0.88)
RESTART_AT = 0.45
# Held by another session at each kill: inserts wait, reads go on, so no batch commits
# while the acks received so far are checked against the table.
FREEZE_SQL = ("BEGIN; LOCK TABLE tidegate_history IN EXCLUSIVE MODE; "
              "SELECT pg_sleep(1.0); COMMIT;")
FROZEN_SQL = ("SELECT count(*) FROM pg_locks WHERE relation = 'tidegate_history'::regclass "
              "AND mode = 'ExclusiveLock' AND granted")
KILL_WRITERS_SQL = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'tidegate writer %'")
FILLER = "The quick brown fox \\u00e9t\\u00e9 jumps over the lazy dog; "


def message_data(i):
    """The JSON text (a string) published as message i: exactly DATA_BYTES bytes, unique,
    with escapes in it (the column keeps them as sent)."""
    head = '"%06d ' % i
    body = (FILLER * 3)[i % len(FILLER):][:DATA_BYTES - len(head) - 1]
    cut = body.rfind("\\")
    if cut > len(body) - 6:             # do not end inside an escape
        body = body[:cut] + "." * (len(body) - cut)
    text = head + body + '"'
    assert len(text.encode()) == DATA_BYTES
    return text


class Publisher:
    """One connection's share of the messages: sends them with up to WINDOW in flight,
    matches acks by id, and after a lost connection reconnects (to the current gateway)
    and sends again, in order, everything not acknowledged."""

    def __init__(self, test, index, todo, channels):
        self.test = test
        self.index = index
        self.channels = channels
        self.todo = collections.deque(todo)   # message numbers still to send, in order
        self.in_flight = {}                   # request id -> message number
        self.acked = {}                       # message number -> (channel, epoch, offset)
        self.next_id = 1
        self.refused = 0
        self.unacked_at_close = 0
        self.connections = 0

    def channel_of(self, i):
        return self.channels[(i // CONNECTIONS) % len(self.channels)]

    async def run(self):
        token = make_token(f"pub{self.index}", caps=ALL_CAPS)
        while self.todo or self.in_flight:
            port = await self.test.gateway_port()
            try:
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/", compression=None, ping_interval=None,
                    max_queue=None, open_timeout=10, close_timeout=5)
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.05)   # the gateway is stopping or not yet listening
                continue
            self.connections += 1
            try:
                await self.serve(ws, token)
            except websockets.exceptions.ConnectionClosed:
                pass
            finally:
                ws.transport.abort()
            lost = sorted(self.in_flight.values())
            self.unacked_at_close += len(lost)
            self.todo.extendleft(reversed(lost))
            self.in_flight.clear()

    async def serve(self, ws, token):
        await ws.send(json.dumps({"type": "connect", "id": 0, "token": token}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if reply.get("type") != "connected":
            raise AssertionError(f"publisher {self.index}: connect answered {reply!r}")
        while self.todo or self.in_flight:
            while self.todo and len(self.in_flight) < WINDOW:
                i = self.todo.popleft()
                id = self.next_id
                self.next_id += 1
                self.in_flight[id] = i
                await ws.send('{"type":"send_message","id":%d,"channel":"%s","data":%s}'
                              % (id, self.channel_of(i), message_data(i)))
            if not self.on_reply(json.loads(await asyncio.wait_for(ws.recv(), 30))):
                await asyncio.sleep(REFUSED_PAUSE_S)

    def on_reply(self, m):
        """Notes an answer; False when it was a refusal (the caller pauses a little)."""
        if m["type"] == "disconnect":
            return True                             # the close follows
        i = self.in_flight.pop(m.get("id"), None)
        if i is None:
            raise AssertionError(f"publisher {self.index}: unexpected {m!r}")
        if m["type"] == "error" and m.get("code") == "storage_unavailable":
            self.refused += 1
            self.todo.append(i)
            return False
        if m["type"] != "ack" or m.get("channel") != self.channel_of(i):
            raise AssertionError(f"publisher {self.index}: message {i} answered {m!r}")
        if i in self.acked:
            raise AssertionError(f"publisher {self.index}: message {i} acknowledged twice")
        self.acked[i] = (m["channel"], m["epoch"], m["offset"])
        self.test.acked_total += 1
        return True


class StorageDurabilityTest(PgGatewayMixin, ProtocolTestCase):
    storage_args = ("--namespace.orders.durable=true", "--client-messages-per-s", "0",
                    "--drain-window", "1s", "--postgres-queue-messages", str(QUEUE))

    async def gateway_port(self):
        await self.gateway_up.wait()
        return self.server.ws_port

    def kill_writers(self):
        return int(self.pg.query(KILL_WRITERS_SQL)[0][0])

    def acked_tops(self):
        """(channel, epoch) -> the highest offset acknowledged so far. A channel's durable
        acks come in offset order, each after its commit, so 1..top are all stored."""
        tops = {}
        for p in self.publishers:
            for channel, epoch, offset in p.acked.values():
                if offset > tops.get((channel, epoch), 0):
                    tops[(channel, epoch)] = offset
        return tops

    def assert_acked_are_stored(self, tops):
        values = ", ".join(f"('{c}', '{e}', {top})" for (c, e), top in tops.items())
        got = self.pg.query(
            "SELECT v.channel, v.epoch, v.top, count(h.msg_offset) "
            f"FROM (VALUES {values}) AS v(channel, epoch, top) LEFT JOIN tidegate_history h "
            "ON h.channel = v.channel AND h.epoch = v.epoch AND h.msg_offset <= v.top "
            "GROUP BY v.channel, v.epoch, v.top")
        missing = [row for row in got if row[2] != row[3]]
        self.assertEqual(missing, [], "acknowledged (channel, epoch, top) with rows missing")

    async def chaos(self):
        """Kills the writers' backends and restarts the gateway as the acks go by."""
        events = sorted([(f, "kill") for f in KILL_AT] + [(RESTART_AT, "restart")])
        for fraction, what in events:
            while self.acked_total < fraction * TOTAL:
                await asyncio.sleep(0.01)
            if what == "kill":
                freeze = asyncio.create_task(asyncio.to_thread(self.pg.query, FREEZE_SQL))
                while (await asyncio.to_thread(self.pg.query, FROZEN_SQL)) != [["1"]]:
                    await asyncio.sleep(0.01)
                # Nothing commits now. Once the acks already on their way have come in,
                # everything acknowledged must be in the table.
                await asyncio.sleep(0.3)
                await asyncio.to_thread(self.assert_acked_are_stored, self.acked_tops())
                # The writers die with their batch waiting for the lock: it must be resent.
                killed = await asyncio.to_thread(self.kill_writers)
                await freeze
                self.assertGreaterEqual(killed, 1, f"no writer backend to kill at {fraction}")
                self.kills.append(killed)
            else:
                self.epochs_before = {}
                for p in self.publishers:
                    for channel, epoch, _ in p.acked.values():
                        self.epochs_before.setdefault(channel, epoch)
                self.assertEqual(len(self.epochs_before), CONNECTIONS * CHANNELS_PER_CONNECTION)
                self.gateway_up.clear()
                await asyncio.to_thread(self.server.stop)
                drained = self.pg.query("SELECT count(*) FROM tidegate_writer_runs "
                                        "WHERE drained_at IS NOT NULL")
                self.assertEqual(drained, [["2"]], "the stopped writers drained their runs")
                await asyncio.to_thread(self.start_server)
                await self.rejoin_all()
                self.gateway_up.set()

    async def rejoin_all(self):
        """Before the publishers come back: a subscriber joins every channel, one at a time
        while the writers' queues are empty, so each continues its stored stream (same
        epoch, the last stored offset); it stays joined, reading, so none is forgotten."""
        self.watcher = await websockets.connect(
            f"ws://127.0.0.1:{self.server.ws_port}/", compression=None, ping_interval=None,
            max_queue=None, open_timeout=10, close_timeout=5)
        token = make_token("watcher", caps=ALL_CAPS)
        await self.watcher.send(json.dumps({"type": "connect", "id": 0, "token": token}))
        self.assertEqual(json.loads(await self.watcher.recv())["type"], "connected")
        for channel, epoch in sorted(self.epochs_before.items()):
            await self.watcher.send(json.dumps({"type": "join_channel", "id": 1,
                                                "channel": channel}))
            joined = json.loads(await asyncio.wait_for(self.watcher.recv(), 10))
            last = self.pg.query("SELECT max(msg_offset) FROM tidegate_history "
                                 f"WHERE channel = '{channel}' AND epoch = '{epoch}'")
            self.assertEqual((joined.get("type"), joined.get("epoch"), joined.get("offset")),
                             ("joined", epoch, int(last[0][0])), channel)
        self.reader = asyncio.create_task(self.read_forever(self.watcher))

    @staticmethod
    async def read_forever(ws):
        try:
            async for _ in ws:
                pass
        except websockets.exceptions.ConnectionClosed:
            pass

    @scenario(timeout_s=170.0)
    async def test_acknowledged_messages_survive_kills_and_a_restart(self):
        self.acked_total = 0
        self.kills = []
        self.watcher = None
        self.gateway_up = asyncio.Event()
        self.gateway_up.set()
        pid = os.getpid()
        self.publishers = publishers = []
        for k in range(CONNECTIONS):
            channels = [f"orders:dur{pid}-{k}-{j}" for j in range(CHANNELS_PER_CONNECTION)]
            publishers.append(Publisher(self, k, range(k, TOTAL, CONNECTIONS), channels))
        started = time.monotonic()
        try:
            await asyncio.gather(self.chaos(), *(p.run() for p in publishers))
        finally:
            if self.watcher is not None:
                self.watcher.transport.abort()
        elapsed_s = time.monotonic() - started
        self.assertEqual(self.acked_total, TOTAL)
        killed_after_restart = sum(self.kills[i] for i, f in enumerate(KILL_AT)
                                   if f > RESTART_AT)
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_storage_disconnects_total") >= killed_after_restart,
            f"the writers saw {killed_after_restart} links killed", timeout=10.0)

        rows = self.pg.query("SELECT channel, epoch, msg_offset, data::text "
                             f"FROM tidegate_history WHERE channel LIKE 'orders:dur{pid}-%'")
        stored = collections.defaultdict(list)
        for channel, epoch, offset, data in rows:
            stored[(channel, epoch, int(offset))].append(data)
        doubled = {k: v for k, v in stored.items() if len(v) != 1}
        self.assertEqual(doubled, {}, "a (channel, epoch, offset) stored more than once")
        wrong = []
        for p in publishers:
            for i, key in p.acked.items():
                if stored.get(key) != [message_data(i)]:
                    wrong.append((i, key, stored.get(key)))
        self.assertEqual(wrong[:5], [], f"{len(wrong)} acknowledged messages not as sent")
        offsets = collections.defaultdict(list)
        for channel, epoch, offset in stored:
            offsets[(channel, epoch)].append(offset)
        for key, got in offsets.items():
            got.sort()
            self.assertEqual(got, list(range(1, len(got) + 1)), f"offsets of {key}")
        epochs = collections.Counter(channel for channel, _ in offsets)
        self.assertEqual(set(epochs.values()), {1}, f"epochs per channel: {epochs}")
        self.assertEqual(len(epochs), CONNECTIONS * CHANNELS_PER_CONNECTION)
        sent = {message_data(i) for i in range(TOTAL)}
        self.assertTrue(all(data in sent for _, _, _, data in rows), "a row nobody sent")
        # While commits were held, 4 x WINDOW publishes in flight met 2 x QUEUE places.
        self.assertGreater(sum(p.refused for p in publishers), 0, "no storage_unavailable")
        unacked = sum(p.unacked_at_close for p in publishers)
        extra = len(rows) - TOTAL
        self.assertGreaterEqual(extra, 0)
        self.assertLessEqual(extra, unacked, "rows beyond the acks that were never resent")
        print(f"\n{TOTAL} durable publishes acked in {elapsed_s:.1f} s over "
              f"{sum(p.connections for p in publishers)} connections: backends killed "
              f"{self.kills} (sum {sum(self.kills)}), refused storage_unavailable "
              f"{sum(p.refused for p in publishers)}, unacked at a connection's close "
              f"{unacked} (sent again), stored twice by that resend {extra}, "
              f"rows {len(rows)}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
