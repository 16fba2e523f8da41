"""A throwaway PostgreSQL server for integration tests, started the way
tests/storage/pg_harness.c does: initdb in a temporary directory (as the `postgres` user,
or `nobody`, when the test runs as root), trust authentication for the superuser
`tidegate`, a free loopback port, the unix socket in the same directory, fsync off. The
server can be stopped and started again on the same port (outage tests); destroy() stops it
and removes the directory.

    pg = PgServer().start()
    pg.conninfo            # for --postgres-url
    pg.query("SELECT 1")   # rows as lists of text (psql -At)
    pg.destroy()
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile

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
    def __init__(self):
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
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=40 -c shared_buffers=32MB -c log_min_messages=warning "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
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
