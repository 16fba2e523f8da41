"""A throwaway Redis server for integration tests, started the way
tests/storage/redis_harness.c does: `redis-server` (Debian's 7.0, scripts/install-deps.sh)
in the foreground as a child of the test, a fresh /tmp/tidegate-redis-* directory, a free
127.0.0.1 port, no persistence (--save '' --appendonly no), killed with the test process
(PR_SET_PDEATHSIG). It never touches a system Redis on 6379. The server can be killed and
started again on the same port (outage tests); destroy() kills it and removes the
directory.

    redis = RedisServer().start()
    redis.url              # for --redis-url
    redis.command("KEYS", "tidegate:*")
    redis.kill(); redis.restart()
    redis.destroy()
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PR_SET_PDEATHSIG = 1
READY_TIMEOUT_S = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis error: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"unexpected redis reply {line!r}")


class RedisServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tidegate-redis-")
        self.port = None
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        for _ in range(5):
            self.port = free_port()
            if self._launch():
                return self
        raise RuntimeError(f"redis-server did not start\n{self.log()}")

    def _launch(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--appendonly", "no",
                "--logfile", os.path.join(self.dir, "redis.log"), "--daemonize", "no"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.dir, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False            # the port was taken meanwhile: try another
            try:
                if self.command("PING") == "PONG":
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        self.kill()
        return False

    def restart(self):
        """Starts the server again on the same port (after kill)."""
        assert self.proc is None
        if not self._launch():
            raise RuntimeError(f"redis-server did not restart on port {self.port}\n{self.log()}")

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def command(self, *args, timeout=5.0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(_encode(args))
            return _Reader(s).reply()

    def log(self):
        try:
            with open(os.path.join(self.dir, "redis.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def destroy(self):
        try:
            self.kill()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
