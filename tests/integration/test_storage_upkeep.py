"""The gateway's own PostgreSQL upkeep and how its links look to a DBA (docs/storage.md).

The database is migrated with `tidegate migrate` before the gateway starts, and given an old
daily partition (2020-01-01, with a row in it) and a row of 2020-01-02 left in the default
partition. The gateway runs with `--postgres-retain-days 30`, 2 workers.

- Worker 0's writer runs the partition upkeep at its first link: the old partition is
  dropped, the old row in the default partition deleted, today's and the next 3 days'
  partitions exist; tidegate_storage_maintain_total counts it on worker 0 only.
- pg_stat_activity names each link: "tidegate writer N" and "tidegate reader N" for every
  worker (the connection string sets no application_name).
- A connection string that sets application_name keeps it: a second gateway on the same
  database with `application_name=orders-gw` shows its 2 links under that name.
- With --postgres-batch-messages 50 and --postgres-flush-delay 2ms every message is stored.
- postgres_batch_messages, postgres_flush_delay and postgres_retain_days are refused out of
  range with exit code 2 and a sentence naming the option."""

import datetime
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_client import ALL_CAPS, ProtocolTestCase, scenario  # noqa: E402
from tidegate_harness import BINARY, Server  # noqa: E402
from tidegate_pg import PgGatewayMixin  # noqa: E402

OLD_PARTITION = "tidegate_history_p20200101"


def app_names(pg):
    return sorted(r[0] for r in pg.query(
        "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'tidegate%'"))


def wait_until(what, check, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class StorageUpkeepTest(PgGatewayMixin, ProtocolTestCase):
    storage_args = ("--postgres-retain-days", "30", "--postgres-batch-messages", "50",
                    "--postgres-flush-delay", "2ms")

    @classmethod
    def server_options(cls):
        args = super().server_options()  # starts PostgreSQL
        subprocess.run([BINARY, "migrate", "--database", cls.pg.conninfo], check=True,
                       capture_output=True, timeout=60)
        cls.pg.query(
            f"CREATE TABLE {OLD_PARTITION} PARTITION OF tidegate_history FOR VALUES FROM "
            "('2020-01-01 00:00:00+00') TO ('2020-01-02 00:00:00+00')")
        for day in ("2020-01-01", "2020-01-02"):
            cls.pg.query(
                "INSERT INTO tidegate_history (channel, epoch, msg_offset, published_at, data) "
                f"VALUES ('old', 'e1', {day[-1]}, '{day} 12:00:00+00', '1')")
        return args

    def test_old_partitions_dropped_and_next_days_created_by_worker_0(self):
        gone = wait_until("old partition dropped", lambda: not self.pg.query(
            f"SELECT 1 FROM pg_class WHERE relname = '{OLD_PARTITION}'"))
        self.assertTrue(gone, "the 2020-01-01 partition is still there")
        self.assertEqual(self.pg.query("SELECT count(*) FROM tidegate_history "
                                       "WHERE channel = 'old'"), [["0"]])
        today = datetime.datetime.now(datetime.timezone.utc).date()
        for ahead in range(4):
            name = "tidegate_history_p" + (today + datetime.timedelta(days=ahead)).strftime(
                "%Y%m%d")
            self.assertEqual(self.pg.query(f"SELECT count(*) FROM pg_class WHERE relname = "
                                           f"'{name}'"), [["1"]], name)
        m = self.server.wait_for_metric(
            lambda m: m.value("tidegate_storage_maintain_total", worker="0") >= 1,
            "worker 0's upkeep counted", timeout=15.0)
        self.assertEqual(m.value("tidegate_storage_maintain_total", worker="1"), 0)
        self.assertEqual(m.value("tidegate_storage_maintain_errors_total"), 0)

    def test_each_link_is_named_in_pg_stat_activity(self):
        want = ["tidegate reader 0", "tidegate reader 1", "tidegate writer 0",
                "tidegate writer 1"]
        got = wait_until("4 named links", lambda: app_names(self.pg) == want and want)
        self.assertEqual(app_names(self.pg), want)
        self.assertTrue(got)

    def test_an_application_name_in_the_connection_string_wins(self):
        other = Server("--postgres-url", self.pg.conninfo + " application_name=orders-gw",
                       "--postgres-migrate", "false", workers=1).start()
        try:
            count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'orders-gw'"
            named = wait_until("the configured name", lambda: self.pg.query(count) == [["2"]])
            self.assertTrue(named, app_names(self.pg))
        finally:
            other.stop()

    @scenario()
    async def test_small_batches_store_everything(self):
        c = await self.user("alice", caps=ALL_CAPS)
        channel = f"upkeep-{os.getpid()}"
        acks = [await c.publish(channel, data=i) for i in range(90)]  # under the burst of 100
        rows = self.wait_rows(channel, 90)
        self.assertEqual([int(r[1]) for r in rows], [a["offset"] for a in acks])


class StorageOptionsTest(unittest.TestCase):
    def test_out_of_range_values_are_refused_with_the_option_named(self):
        for option, value in (("--postgres-batch-messages", "0"),
                              ("--postgres-batch-messages", "10001"),
                              ("--postgres-flush-delay", "0ms"),
                              ("--postgres-flush-delay", "2s"),
                              ("--postgres-retain-days", "3651")):
            with self.subTest(option=option, value=value):
                result = subprocess.run([BINARY, option, value], capture_output=True,
                                        text=True, timeout=30)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(option[2:].replace("-", "_"), result.stderr)
                self.assertIn("out of range", result.stderr)


if __name__ == "__main__":
    unittest.main()
