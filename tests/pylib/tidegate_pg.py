"""A throwaway PostgreSQL server for integration tests, started the way
tests/storage/pg_harness.c does: initdb in a temporary directory (as the `postgres` user,
or `nobody`, when the test runs as root), trust authentication for the superuser
`tidegate`, a free loopback port, the unix socket in the same directory, fsync off (on with
PgServer(fsync=True), for benchmarks where a commit must cost what it does in production). The
server can be stopped and started again on the same port (outage tests); destroy() stops it
and removes the directory.

    pg = PgServer().start()
    pg.conninfo            # for --postgres-url
    pg.query("SELECT 1")   # rows as lists of text (psql -At)
    pg.destroy()

PgGatewayMixin puts such a server under a test class's gateway (see its docstring).
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from tidegate_harness import Server

BINDIR_CANDIDATES = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                     "/usr/lib/postgresql/15/bin")
FIELD_SEP = "\x1f"
ROW_SEP = "\x1e"


def find_bindir():
    env = os.environ.get("TIDEGATE_PG_BINDIR")
    if env:
        return env
    for d in BINDIR_CANDIDATES:
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    raise RuntimeError("PostgreSQL server binaries not found: install postgresql "
                       "(scripts/install-deps.sh) or set TIDEGATE_PG_BINDIR")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, fsync=False):
        self.fsync = fsync
        self.bindir = find_bindir()
        self.dir = tempfile.mkdtemp(prefix="tidegate-pg-")
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pw = pwd.getpwnam(name)
                except KeyError:
                    continue
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
                self.user = name
                break
        self.data = os.path.join(self.dir, "data")
        self.port = None

    def _run(self, tool, *args, check=True):
        argv = [os.path.join(self.bindir, tool), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        result = subprocess.run(argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{self.server_log()}")
        return result

    def server_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def start(self):
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "tidegate", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        for attempt in range(5):
            self.port = free_port()
            if self.server_start(check=attempt == 4):
                return self
        raise RuntimeError("PostgreSQL did not start")

    def server_start(self, check=True):
        sync = "on" if self.fsync else "off"
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=40 -c shared_buffers=32MB -c log_min_messages=warning "
                   f"-c fsync={sync} -c full_page_writes={sync} -c synchronous_commit={sync}")
        result = self._run("pg_ctl", "start", "-D", self.data, "-l",
                           os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-o",
                           options, check=check)
        return result.returncode == 0

    def server_stop(self):
        self._run("pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w")

    @property
    def conninfo(self):
        return f"host=127.0.0.1 port={self.port} dbname=postgres user=tidegate"

    def query(self, sql):
        """Runs `sql` with psql; returns the rows as lists of text fields."""
        result = subprocess.run(
            [os.path.join(self.bindir, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
             "-F", FIELD_SEP, "-R", ROW_SEP, "-d", self.conninfo, "-c", sql],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {result.stderr}")
        out = result.stdout.rstrip("\n")
        return [row.split(FIELD_SEP) for row in out.split(ROW_SEP)] if out else []

    def destroy(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class PgGatewayMixin:
    """For a ServerTestCase (listed before it): a PostgreSQL server is started before the
    class's gateway and removed after it; the gateway gets `--postgres-url` (the server's
    conninfo plus `pg_conninfo_extra`, e.g. " application_name=x") and `storage_args`.

        class T(PgGatewayMixin, ProtocolTestCase):
            storage_args = ("--namespace.orders.durable=true",)
    """

    pg = None
    pg_conninfo_extra = ""
    storage_args = ()

    @classmethod
    def server_options(cls):
        cls.pg = PgServer().start()
        cls.args = super().server_options() + (
            "--postgres-url", cls.pg.conninfo + cls.pg_conninfo_extra) + tuple(cls.storage_args)
        return cls.args

    @classmethod
    def setUpClass(cls):
        try:
            super().setUpClass()
        except BaseException:
            if cls.pg is not None:
                cls.pg.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.pg.destroy()

    def restart_server(self):
        """SIGTERM (a clean exit is asserted), then a new gateway with the same arguments
        on the same database (new ports)."""
        self.server.stop()
        self.start_server()

    def start_server(self):
        type(self).server = Server(*self.args, workers=self.workers).start()
        return self.server

    def history_rows(self, channel):
        """[epoch, offset, user id or '-', data as stored] of `channel`, by offset."""
        return self.pg.query("SELECT epoch, msg_offset, coalesce(user_id, '-'), data::text "
                             f"FROM tidegate_history WHERE channel = '{channel}' "
                             "ORDER BY msg_offset")

    def wait_rows(self, channel, count, timeout_s=20.0):
        """history_rows once at least `count` are there (or the deadline passed)."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.history_rows(channel)
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)
