"""History and recovery past the in-memory ring, read from a real PostgreSQL (issue 6;
docs/storage.md "Gateway integration", docs/protocol.md 5.3 and 6.7).

Namespace `h` keeps only 5 messages in memory (history_size 5); every publish is also
stored by the gateway's batch writer. history_page_max is 20 and recovery_max_messages 60.
Messages carry JSON text with odd spacing, escapes and non-ASCII, sent as raw text: a page
or a replay must hold each message exactly as it was delivered live, byte for byte.

- `history` pages backward and forward across the ring's boundary give exactly the offsets
  asked for, in order, with `more` right and `oldest` 1; the server API's page too.
- A join with `since` far behind the ring replays every missed message once, in order,
  while messages are being published, and live messages follow with no gap or duplicate.
  Past recovery_max_messages: recovered false.
- A page or a replay asked right after a burst, while the messages that left the ring are
  still in the writer's queue, waits for them instead of skipping them.
- After a gateway restart (SIGTERM, same database) the channel keeps its epoch, and both
  recovery with `since` and history from before the restart work.
- Database stopped: a page that needs it answers storage_unavailable (API: 503), a join
  past the ring is not recovered, everything else keeps working; once the database is back
  pages past the ring work again.
- Database hung (SIGSTOP) with reads in flight and waiting for the writer: SIGTERM still
  ends the gateway cleanly (no answers, nothing leaked)."""

import asyncio
import http.client
import itertools
import json
import os
import signal
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import ALL_CAPS, ProtocolTestCase, check_error, compact, scenario  # noqa: E402
from tidegate_harness import parse_logfmt  # noqa: E402
from tidegate_pg import PgGatewayMixin  # noqa: E402

RING = 5
PAGE_MAX = 20
RECOVERY_MAX = 60
KEY = "history-api-key-0123456789-abcdefghijklm"
_serial = itertools.count(1)


def fresh(kind):
    return f"h:{kind}-{os.getpid()}-{next(_serial)}"


def sample(i):
    """The raw JSON text of message i: shapes whose bytes a re-encoding would change."""
    shapes = ('{ "n" : %d ,"s":"caf\u00e9 \\u2603"}', '[%d, 2.50, "\\u00e9t\\u00e9", null]',
              '"line %d\\nnext \u2603"', '%d00000000000000000000', '{"n":%d,"x":-0.0e+1 }')
    return shapes[i % len(shapes)] % i


def server_pids(pg):
    """The PostgreSQL server's processes: the postmaster and its children."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == postmaster:
            pids.append(int(entry))
    return pids


def offsets(messages):
    return [m["offset"] for m in messages]


class StorageHistoryTest(PgGatewayMixin, ProtocolTestCase):
    storage_args = ("--client-messages-per-s", "0", "--history-page-max", str(PAGE_MAX),
                    "--recovery-max-messages", str(RECOVERY_MAX),
                    f"--namespace.h.history_size={RING}", "--api-listen", "127.0.0.1:0",
                    "--api-keys", KEY, "--drain-window", "1s", "--close-timeout", "1s")

    # -- helpers ------------------------------------------------------------------------

    async def publish_raw(self, c, channel, first, count, pause_s=0.0):
        """Publishes sample(first..first+count-1) pipelined; returns the acks in order."""
        ids = []
        for i in range(first, first + count):
            ids.append(c.new_id())
            await c.send('{"type":"send_message","id":%d,"channel":%s,"data":%s}'
                         % (ids[-1], compact(channel), sample(i)))
            if pause_s:
                await asyncio.sleep(pause_s)
        acks = [await c.reply(i) for i in ids]
        for a in acks:
            self.assertEqual(a["type"], "ack", a)
        return acks

    async def collect(self, client, channel, live, until, after=None):
        """Adds the raw text of each live message after offset `after` (default: the last
        in `live`) up to `until` to `live` (offset -> text); asserts they come in order,
        without gaps or duplicates."""
        last = max(live, default=0) if after is None else after
        while last < until:
            m = await client.next_of("message", channel)
            self.assertEqual(m["offset"], last + 1, m)
            last = m["offset"]
            live[last] = m.raw

    async def filled(self, channel, count):
        """A channel with `count` stored messages: (watcher, publisher, epoch, live)."""
        watcher = await self.user("watcher", caps=ALL_CAPS)
        epoch = (await watcher.join(channel))["epoch"]
        pub = await self.user("pub", caps=ALL_CAPS)
        await self.publish_raw(pub, channel, 1, count)
        live = {}
        await self.collect(watcher, channel, live, count)
        self.assertEqual(len(self.wait_rows(channel, count)), count)
        return watcher, pub, epoch, live

    async def page(self, c, channel, epoch=None, since=None, limit=PAGE_MAX, backward=False):
        fields = {"channel": channel, "limit": limit,
                  "direction": "backward" if backward else "forward"}
        if since is not None:
            fields["since"] = {"offset": since, "epoch": epoch}
        return await c.request("history", **fields)

    def assert_page(self, page, live, expected, more):
        """The page holds exactly `expected` offsets, each the bytes delivered live."""
        self.assertEqual(page["type"], "history", page)
        self.assertEqual((offsets(page["messages"]), page["more"], page["oldest"]),
                         (list(expected), more, 1))
        text = '"messages":[' + ",".join(live[o] for o in expected) + '],"more":'
        self.assertIn(text, page.raw)

    def api_history(self, **query):
        port = None
        for line in self.server.log_lines():
            fields = parse_logfmt(line)
            if fields.get("msg") == "listening" and fields.get("kind") == "api":
                port = int(fields["addr"].rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/api/history?" + urllib.parse.urlencode(query),
                         headers={"X-Api-Key": KEY})
            res = conn.getresponse()
            return res.status, res.read().decode()
        finally:
            conn.close()

    # -- scenarios (run in this order: the restart needs runs that stored everything) ----

    @scenario(timeout_s=60.0)
    async def test_1_history_pages_cross_the_ring_both_ways(self):
        channel = fresh("pages")
        _, _, epoch, live = await self.filled(channel, 50)
        c = await self.user("reader", caps=ALL_CAPS)
        for since, expected, more in ((None, range(50, 30, -1), True),
                                      (31, range(30, 10, -1), True),
                                      (11, range(10, 0, -1), False)):
            page = await self.page(c, channel, epoch, since, backward=True)
            self.assert_page(page, live, expected, more)
        for since, expected, more in ((None, range(1, 21), True), (20, range(21, 41), True),
                                      (40, range(41, 51), False), (50, [], False)):
            page = await self.page(c, channel, epoch, since)
            self.assert_page(page, live, expected, more)
        # Pages that straddle the boundary (ring 46..50) with small limits.
        self.assert_page(await self.page(c, channel, epoch, 43, limit=5), live,
                         range(44, 49), True)
        self.assert_page(await self.page(c, channel, epoch, 48, limit=3, backward=True), live,
                         [47, 46, 45], True)
        self.assert_page(await self.page(c, channel, epoch, 47, limit=1, backward=True), live,
                         [46], True)
        self.assert_page(await self.page(c, channel, epoch, 2, limit=5, backward=True), live,
                         [1], False)
        # The server API's page has the same messages, byte for byte.
        status, body = await asyncio.to_thread(self.api_history, channel=channel, since=40,
                                               epoch=epoch, limit=20)
        self.assertEqual(status, 200, body)
        self.assertEqual(offsets(json.loads(body)["messages"]), list(range(41, 51)))
        self.assertIn('"messages":[' + ",".join(live[o] for o in range(41, 51)) + "]", body)
        m = self.server.metrics()
        self.assertGreaterEqual(m.value("tidegate_storage_rows_read_total"), 50)
        self.assertEqual(m.label_values("tidegate_storage_reads_total", "worker"), {"0", "1"})

    @scenario(timeout_s=60.0)
    async def test_2_join_since_beyond_the_ring_replays_once_then_live(self):
        channel = fresh("join")
        watcher, pub, epoch, live = await self.filled(channel, 50)
        # 20 more are published while three clients rejoin from far behind the ring.
        publishing = asyncio.ensure_future(self.publish_raw(pub, channel, 51, 20, 0.01))
        joins = []
        for since in (15, 20, 25):
            j = await self.user(f"joiner{since}", caps=ALL_CAPS)
            joined = await j.join(channel, since={"offset": since, "epoch": epoch})
            joins.append((j, since, joined))
            await asyncio.sleep(0.04)
        await publishing
        await self.collect(watcher, channel, live, 70)
        self.assertTrue(any(50 < joined["offset"] < 70 for _, _, joined in joins),
                        "no join happened while messages were being published")
        for j, since, joined in joins:
            self.assertTrue(joined["recovered"], joined)
            self.assertEqual((joined["epoch"], offsets(joined["messages"])),
                             (epoch, list(range(since + 1, joined["offset"] + 1))))
            self.assertIn('"messages":[' + ",".join(live[o] for o in range(
                since + 1, joined["offset"] + 1)) + "]", joined.raw)
            got = {}
            await self.collect(j, channel, got, 70, after=joined["offset"])
            self.assertEqual(sorted(got), list(range(joined["offset"] + 1, 71)),
                             f"live after joined at {joined['offset']}")
            self.assertEqual([got[o] for o in sorted(got)],
                             [live[o] for o in range(joined["offset"] + 1, 71)])
        # 65 missed, more than recovery_max_messages: not recovered.
        late = await self.user("late", caps=ALL_CAPS)
        joined = await late.join(channel, since={"offset": 5, "epoch": epoch})
        self.assertEqual((joined["recovered"], joined["messages"], joined["offset"]),
                         (False, [], 70))

    @scenario(timeout_s=60.0)
    async def test_2b_reads_right_after_a_burst_miss_nothing(self):
        """Messages that just left the ring may not be stored yet (the writer waits up to
        flush_delay_ms for company): a page or a replay asked at once must wait for them
        rather than skip them."""
        for round in range(3):
            channel = fresh("burst")
            watcher = await self.user("watcher", caps=ALL_CAPS)
            epoch = (await watcher.join(channel))["epoch"]
            pub = await self.user("pub", caps=ALL_CAPS)
            await self.publish_raw(pub, channel, 1, 40)
            page = await self.page(pub, channel, backward=True)
            joined = await pub.join(channel, since={"offset": 10, "epoch": epoch})
            live = {}
            await self.collect(watcher, channel, live, 40)
            self.assert_page(page, live, range(40, 20, -1), True)
            self.assertEqual((joined["recovered"], offsets(joined["messages"])),
                             (True, list(range(11, 41))), f"round {round}")

    @scenario(timeout_s=90.0)
    async def test_3_restart_keeps_history_and_recovery(self):
        channel = fresh("restart")
        watcher, pub, epoch, live = await self.filled(channel, 30)
        await watcher.close()
        await pub.close()
        self.restart_server()
        j = await self.user("back", caps=ALL_CAPS)
        joined = await j.join(channel, since={"offset": 10, "epoch": epoch})
        self.assertEqual((joined["epoch"], joined["offset"], joined["recovered"]),
                         (epoch, 30, True))
        self.assertIn('"messages":[' + ",".join(live[o] for o in range(11, 31)) + "]",
                      joined.raw)
        c = await self.user("reader", caps=ALL_CAPS)
        self.assert_page(await self.page(c, channel, backward=True), live, range(30, 10, -1),
                         True)
        self.assert_page(await self.page(c, channel), live, range(1, 21), True)
        ack = await self.publish_raw(c, channel, 31, 1)
        self.assertEqual((ack[0]["epoch"], ack[0]["offset"]), (epoch, 31))
        await self.collect(j, channel, live, 31)
        self.assert_page(await self.page(c, channel, epoch, 25), live, range(26, 32), False)

    @scenario(timeout_s=120.0)
    async def test_4_database_stopped_then_back(self):
        channel = fresh("outage")
        watcher, pub, epoch, live = await self.filled(channel, 30)
        refusals = self.server.metrics()
        self.pg.server_stop()
        try:
            c = await self.user("reader", caps=ALL_CAPS)
            err = check_error(await self.page(c, channel, backward=True),
                              "storage_unavailable", request_type="history")
            self.assertIn("message store could not be read", err["message"])
            # Within the ring nothing is needed from the database.
            self.assert_page(await self.page(c, channel, limit=3, backward=True), live,
                             [30, 29, 28], True)
            status, body = await asyncio.to_thread(self.api_history, channel=channel)
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body)["error"], "storage_unavailable")
            self.assertIn("message store could not be read", json.loads(body)["message"])
            j = await self.user("rejoin", caps=ALL_CAPS)
            joined = await j.join(channel, since={"offset": 5, "epoch": epoch})
            self.assertEqual((joined["recovered"], joined["messages"], joined["offset"]),
                             (False, [], 30))
            await self.publish_raw(pub, channel, 31, 1)
            await self.collect(watcher, channel, live, 31)
            await self.collect(j, channel, {}, 31, after=30)
            await c.ping()
        finally:
            self.pg.server_start()
        m = self.server.metrics()
        failed = (m.value("tidegate_storage_read_refusals_total") +
                  m.value("tidegate_storage_read_failures_total"))
        self.assertGreater(failed, refusals.value("tidegate_storage_read_refusals_total") +
                           refusals.value("tidegate_storage_read_failures_total"))
        # Back: the page past the ring is served again once the links are remade, with the
        # message published during the outage stored by then.
        deadline = time.monotonic() + 30.0
        while True:
            c = await self.user("again", caps=ALL_CAPS)
            page = await self.page(c, channel, backward=True)
            if page["type"] == "history":
                break
            check_error(page, "storage_unavailable", request_type="history")
            self.assertLess(time.monotonic(), deadline, "history never came back")
            await c.close()
            await asyncio.sleep(0.5)
        self.assert_page(page, live, range(31, 11, -1), True)

    @scenario(timeout_s=120.0)
    async def test_5_exit_with_reads_in_flight_and_waiting(self):
        """The database hangs (SIGSTOP) with a page read in flight and a page and a join
        waiting for the writer: SIGTERM still ends the gateway cleanly (the harness asserts
        exit 0 and, under ASan, no report); the requests get no answer."""
        channel = fresh("exit")
        watcher, pub, epoch, live = await self.filled(channel, 30)
        c = await self.user("reader", caps=ALL_CAPS)
        # Every link up again after the outage test (a reader still in its reconnect
        # backoff would refuse the read at once).
        await asyncio.to_thread(
            self.server.wait_for_metric,
            lambda m: (m.value("tidegate_storage_reader_connection_state") == 2 * 2 and
                       m.value("tidegate_storage_connection_state") == 2 * 2),
            "both workers' reader and writer up", 20.0)
        pids = server_pids(self.pg)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            first = c.new_id()  # in flight at the reader, which never answers
            await c.send_request("history", first, channel=channel, direction="backward")
            await self.publish_raw(pub, channel, 31, 1)  # the writer never answers it
            waiting = c.new_id()  # waits for the writer
            await c.send_request("history", waiting, channel=channel, direction="backward")
            j = await self.user("rejoin", caps=ALL_CAPS)
            await j.send_request("join_channel", j.new_id(), channel=channel,
                                 since={"offset": 3, "epoch": epoch})
            await c.ping()
            self.assertEqual([m for m in c.inbox if m.get("id") in (first, waiting)], [])
            self.server.stop()  # before the 5 s read timeouts: the reads are still pending
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        self.start_server()


if __name__ == "__main__":
    unittest.main()
