"""Test harness for the integration and conformance suites: runs the real tidegate binary
on loopback and talks to it the way clients and scrapers do.

What is here, in the order a test usually needs it:

  Server           starts `tidegate --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 ...`,
                   waits for its "listening" and "ready" log lines, keeps every stderr
                   line, and on stop() sends SIGTERM and asserts a clean exit (code 0, no
                   AddressSanitizer, UBSan or LeakSanitizer report).
  ServerTestCase   unittest base class: one server per class (setUpClass), checked still
                   alive after every test.
  http_get, parse_metrics
                   the admin listener as curl and Prometheus see it.
  RawClient        a WebSocket client on a plain socket that builds every frame by hand, so
                   tests can send what no library would (unmasked frames, RSV bits, bad
                   UTF-8, split headers) and see exactly which frames come back.
  http_exchange    one raw HTTP request, for handshake error cases.

Only the standard library is used, so this runs on Debian's /usr/bin/python3 as is.
Every wait has a deadline measured in seconds: the suites must pass on a loaded 2-core
machine, so deadlines are generous and nothing asserts how fast the server is.
"""

import base64
import hashlib
import http.client
import math
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from typing import NamedTuple, Optional

# ---------------------------------------------------------------------------------------
# Where things are

SOURCE_DIR = os.environ.get("TIDEGATE_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("TIDEGATE_BIN") or os.path.join(SOURCE_DIR, "build", "tidegate")

READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 20.0
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")


def run_binary(*args, timeout=20.0):
    """Runs tidegate to completion (for --help, --check-config, bad options).
    Returns a CompletedProcess with text stdout and stderr."""
    return subprocess.run([BINARY, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout)


# ---------------------------------------------------------------------------------------
# Log lines

_LOGFMT_PAIR = re.compile(r'([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    """Parses one logfmt line into a dict; quoted values are unquoted."""
    fields = {}
    for key, value in _LOGFMT_PAIR.findall(line):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        fields[key] = value
    return fields


def parse_addr_port(addr):
    """'127.0.0.1:41234' or '[::1]:41234' -> 41234."""
    return int(addr.rsplit(":", 1)[1])


# ---------------------------------------------------------------------------------------
# The server process


class ServerError(AssertionError):
    """The server did not start, died, or did not stop cleanly. The message carries the
    tail of its stderr."""


class Server:
    """One tidegate process on loopback with kernel-chosen ports.

        with Server("--echo", "true", workers=2) as server:
            client = RawClient.connect(server.ws_port)

    `args` are appended after the listen, admin-listen and workers options."""

    def __init__(self, *args, workers=2, env=None):
        self.args = [str(a) for a in args]
        self.workers = workers
        self.env = env
        self.proc = None
        self.ws_port = None
        self.admin_port = None
        self.exit_code = None
        self._lines = []
        self._stdout = []
        self._cond = threading.Condition()
        self._threads = []

    # -- lifecycle ------------------------------------------------------------------

    def command(self):
        return [BINARY, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                "--workers", str(self.workers), *self.args]

    def start(self):
        if not os.access(BINARY, os.X_OK):
            raise ServerError(f"no tidegate binary at {BINARY} (build it, or set TIDEGATE_BIN)")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for stream, sink in ((self.proc.stderr, self._lines), (self.proc.stdout, self._stdout)):
            t = threading.Thread(target=self._drain, args=(stream, sink), daemon=True)
            t.start()
            self._threads.append(t)
        try:
            self._wait_ready()
        except BaseException:
            self._kill()
            raise
        return self

    def _drain(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._cond:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        seen = 0
        ready = False
        with self._cond:
            while not ready:
                while seen < len(self._lines):
                    fields = parse_logfmt(self._lines[seen])
                    seen += 1
                    if fields.get("msg") == "listening" and "addr" in fields:
                        if fields.get("kind") == "ws" and self.ws_port is None:
                            self.ws_port = parse_addr_port(fields["addr"])
                        elif fields.get("kind") == "admin" and self.admin_port is None:
                            self.admin_port = parse_addr_port(fields["addr"])
                    elif fields.get("msg") == "ready":
                        ready = True
                if ready:
                    break
                if self.proc.poll() is not None:
                    raise ServerError(f"tidegate exited with {self.proc.returncode} before "
                                      f"\"ready\"\n{self.stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerError(f"tidegate did not log \"ready\" within "
                                      f"{READY_TIMEOUT_S:.0f} s\n{self.stderr_tail()}")
                self._cond.wait(min(left, 0.2))
        if self.ws_port is None or self.admin_port is None:
            raise ServerError("tidegate logged \"ready\" without both \"listening\" lines "
                              f"(kind=ws and kind=admin)\n{self.stderr_tail()}")

    def stop(self, sig=signal.SIGTERM):
        """Sends `sig`, waits for the exit and asserts it was clean. Idempotent."""
        if self.proc is None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait_exit(STOP_TIMEOUT_S)

    def wait_exit(self, timeout):
        """Waits for an exit already under way and asserts it was clean."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise ServerError(f"tidegate did not exit within {timeout:.0f} s of the signal\n"
                              f"{self.stderr_tail()}") from None
        self._join_drains()
        self.exit_code = self.proc.returncode
        self.proc = None
        self.assert_no_sanitizer_report()
        if self.exit_code != 0:
            raise ServerError(f"tidegate exited with {self.exit_code}, expected 0\n"
                              f"{self.stderr_tail()}")
        return self.exit_code

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self._join_drains()
        self.proc = None

    def _join_drains(self):
        for t in self._threads:
            t.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- what tests look at ---------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_running(self):
        if not self.is_running():
            code = self.proc.returncode if self.proc is not None else self.exit_code
            raise ServerError(f"tidegate is no longer running (exit status {code})\n"
                              f"{self.stderr_tail()}")

    def log_lines(self):
        with self._cond:
            return list(self._lines)

    def stdout_lines(self):
        with self._cond:
            return list(self._stdout)

    def stderr_tail(self, count=40):
        lines = self.log_lines()[-count:]
        return "--- tidegate stderr (last %d lines) ---\n%s" % (len(lines), "\n".join(lines))

    def wait_for_log(self, pattern, timeout=10.0, start=0):
        """Waits for a stderr line at index >= start matching the regex `pattern`;
        returns (index, line)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(start, len(self._lines)):
                    if regex.search(self._lines[i]):
                        return i, self._lines[i]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no log line matching {pattern!r} within "
                                         f"{timeout:.0f} s\n{self.stderr_tail()}")
                self._cond.wait(min(left, 0.2))

    def assert_no_sanitizer_report(self):
        for line in self.log_lines():
            for marker in SANITIZER_MARKERS:
                if marker in line:
                    raise ServerError(f"sanitizer report in tidegate stderr: {line}\n"
                                      f"{self.stderr_tail(200)}")

    def rss_bytes(self):
        """Resident set size from /proc/PID/status (VmRSS)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line in /proc/PID/status")

    # -- admin listener ---------------------------------------------------------------

    def admin_get(self, path, timeout=10.0):
        return http_get(self.admin_port, path, timeout)

    def metrics(self, timeout=10.0):
        status, headers, body = self.admin_get("/metrics", timeout)
        if status != 200:
            raise AssertionError(f"GET /metrics answered {status}: {body[:200]!r}")
        return parse_metrics(body)

    def wait_for_metric(self, predicate, description, timeout=10.0):
        """Scrapes until predicate(metrics) is true; returns those metrics. Counters are
        updated by workers asynchronously, so a test waits for the value it expects."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if predicate(m):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"metrics never showed {description} within "
                                     f"{timeout:.0f} s; last scrape:\n{m.text}")
            time.sleep(0.1)


class ServerTestCase(unittest.TestCase):
    """One server for the whole class. Subclasses set `server_args` (a tuple of extra
    command-line arguments) and `workers`, or override server_options() when an argument
    names a file the class writes first (a key file in `tmp_dir`). After every test the
    server must still be running: no test may crash it, whatever it sends."""

    server_args = ()
    workers = 2
    server = None
    tmp_dir = None

    @classmethod
    def server_options(cls):
        """The extra command-line arguments; `server_args` unless overridden. Called once,
        after `tmp_dir` (a fresh directory, removed after the class) exists."""
        return cls.server_args

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp_dir = tempfile.mkdtemp(prefix="tidegate-test-")
        try:
            cls.server = Server(*cls.server_options(), workers=cls.workers).start()
        except BaseException:
            shutil.rmtree(cls.tmp_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server is not None:
                cls.server.stop()
        finally:
            shutil.rmtree(cls.tmp_dir, ignore_errors=True)
            super().tearDownClass()

    def tearDown(self):
        self.server.assert_running()
        super().tearDown()

    def connect(self, **kwargs):
        client = RawClient.connect(self.server.ws_port, **kwargs)
        self.addCleanup(client.abort)
        return client


# ---------------------------------------------------------------------------------------
# Admin HTTP and Prometheus text


def http_get(port, path, timeout=10.0):
    """GET on 127.0.0.1:port. Returns (status, {lower-case header: value}, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        body = res.read().decode("utf-8", "replace")
        return res.status, {k.lower(): v for k, v in res.getheaders()}, body
    finally:
        conn.close()


class Sample(NamedTuple):
    name: str
    labels: dict
    value: float


_METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE_LINE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$" % _METRIC_NAME)
_LABEL_PAIR = re.compile(r'\s*(%s)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)' % _LABEL_NAME)
_COMMENT_LINE = re.compile(r"^# (HELP|TYPE) (%s)(?: (.*))?$" % _METRIC_NAME)
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Metrics:
    """A parsed scrape. `value(name, **labels)` sums every sample of `name` whose labels
    include the given ones (so value("x_total") is the total over workers)."""

    def __init__(self, text, samples, types, helps):
        self.text = text
        self.samples = samples
        self.types = types
        self.helps = helps

    def series(self, name, **labels):
        want = {k: str(v) for k, v in labels.items()}
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in want.items())]

    def value(self, name, **labels):
        return sum(s.value for s in self.series(name, **labels))

    def label_values(self, name, label):
        return {s.labels[label] for s in self.series(name) if label in s.labels}


def _family_of(sample_name, types):
    if sample_name in types:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix) and sample_name[: -len(suffix)] in types:
            return sample_name[: -len(suffix)]
    return sample_name


def parse_metrics(text):
    """Parses Prometheus text format 0.0.4 strictly and returns Metrics. Raises ValueError
    naming the line for anything a Prometheus scraper would reject or that breaks the
    format's rules: a malformed line, a sample before its family's HELP and TYPE, a TYPE
    after samples, a family interleaved with another, a repeated series, a value that is
    not a number."""
    samples, types, helps = [], {}, {}
    seen_series = set()
    finished = set()   # families whose samples are over (another family started)
    current = None
    if text and not text.endswith("\n"):
        raise ValueError("the exposition does not end with a newline")
    for number, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = f"line {number}: {line!r}"
        if line == "":
            continue
        if line.startswith("#"):
            m = _COMMENT_LINE.match(line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    raise ValueError(f"malformed comment, {where}")
                continue
            kind, name, rest = m.group(1), m.group(2), m.group(3)
            if kind == "HELP":
                if name in helps:
                    raise ValueError(f"second HELP for {name}, {where}")
                helps[name] = rest or ""
            else:
                if name in types:
                    raise ValueError(f"second TYPE for {name}, {where}")
                if rest not in _TYPES:
                    raise ValueError(f"unknown type {rest!r}, {where}")
                if any(_family_of(s.name, {name: rest}) == name for s in samples):
                    raise ValueError(f"TYPE after samples of {name}, {where}")
                types[name] = rest
            continue
        m = _SAMPLE_LINE.match(line)
        if not m:
            raise ValueError(f"malformed sample, {where}")
        name, label_text, value_text = m.group(1), m.group(2), m.group(3)
        labels = {}
        if label_text:
            pos = 0
            while pos < len(label_text):
                lm = _LABEL_PAIR.match(label_text, pos)
                if not lm or lm.end() == pos:
                    raise ValueError(f"malformed labels, {where}")
                if lm.group(1) in labels:
                    raise ValueError(f"label {lm.group(1)} repeated, {where}")
                labels[lm.group(1)] = re.sub(r'\\(.)', lambda e: "\n" if e.group(1) == "n"
                                             else e.group(1), lm.group(2))
                pos = lm.end()
                if lm.group(3) == "" and pos < len(label_text):
                    raise ValueError(f"malformed labels, {where}")
        try:
            value = float(value_text)
        except ValueError:
            raise ValueError(f"value is not a number, {where}") from None
        if value_text.lower() not in ("nan", "+inf", "-inf", "inf") and not math.isfinite(value):
            raise ValueError(f"value is not a number, {where}")
        family = _family_of(name, types)
        if family not in types or family not in helps:
            raise ValueError(f"sample before its # HELP and # TYPE lines, {where}")
        if family != current:
            if family in finished:
                raise ValueError(f"samples of {family} are not contiguous, {where}")
            if current is not None:
                finished.add(current)
            current = family
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            raise ValueError(f"series repeated, {where}")
        seen_series.add(key)
        samples.append(Sample(name, labels, value))
    return Metrics(text, samples, types, helps)


# ---------------------------------------------------------------------------------------
# Raw HTTP, for handshake error cases


class HttpResponse(NamedTuple):
    status: int
    reason: str
    headers: list      # [(lower-case name, value)], in order, duplicates kept
    body: bytes
    closed: bool       # the server closed the connection after the response

    def header(self, name):
        """The value of the only header `name`, None when absent; asserts no duplicate."""
        values = [v for k, v in self.headers if k == name.lower()]
        if len(values) > 1:
            raise AssertionError(f"header {name} repeated: {values}")
        return values[0] if values else None


def parse_http_response_head(head):
    """Parses a response head (bytes up to, not including, CRLFCRLF)."""
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"^HTTP/1\.1 (\d{3}) ?(.*)$", lines[0])
    if not m:
        raise AssertionError(f"malformed status line: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise AssertionError(f"malformed response header line: {line!r}")
        headers.append((name.lower(), value.strip()))
    return int(m.group(1)), m.group(2), headers


def http_exchange(port, request, timeout=10.0, chunks=None, chunk_delay_s=0.0):
    """Sends `request` (bytes) on a new connection and reads until the server closes it or
    `timeout` passes. `chunks` > 0 sends it in pieces of that many bytes, `chunk_delay_s`
    apart. Returns HttpResponse, or None when the server closed without answering."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    deadline = time.monotonic() + timeout
    data = bytearray()
    closed = False
    try:
        try:
            if chunks:
                for i in range(0, len(request), chunks):
                    sock.sendall(request[i:i + chunks])
                    if chunk_delay_s:
                        time.sleep(chunk_delay_s)
            else:
                sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking it all: read the answer
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
    finally:
        sock.close()
    return _parse_http_bytes(bytes(data), closed)


def _parse_http_bytes(data, closed):
    if not data:
        return None
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise AssertionError(f"incomplete HTTP response head: {data[:300]!r}")
    status, reason, headers = parse_http_response_head(data[:end])
    return HttpResponse(status, reason, headers, data[end + 4:], closed)


# ---------------------------------------------------------------------------------------
# WebSocket frames by hand

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def apply_mask(data, key):
    """XORs `data` with the 4-byte `key` (whole-buffer integer trick: fast for MiBs)."""
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None,
                length=None):
    """One frame as a client sends it. `rsv` is RSV1..3 as the bits 0b100, 0b010, 0b001;
    `mask=False` sends it unmasked (illegal from a client); `length` announces a length
    other than len(payload) (for oversize announcements)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)])
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 65536:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return bytes(head) + key + apply_mask(payload, key)


def close_payload(code=None, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


class Frame(NamedTuple):
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes


# What RawClient.next_event returns. Compare with ==: Message(OP_TEXT, b"hi").
class Message(NamedTuple):
    opcode: int
    data: bytes

    def __repr__(self):
        kind = {OP_TEXT: "TEXT", OP_BINARY: "BINARY"}.get(self.opcode, hex(self.opcode))
        shown = self.data if len(self.data) <= 64 else self.data[:64] + b"..."
        return f"Message({kind}, {len(self.data)} bytes: {shown!r})"


class Ping(NamedTuple):
    data: bytes


class Pong(NamedTuple):
    data: bytes


class Close(NamedTuple):
    code: Optional[int]    # None for an empty close payload
    reason: bytes


class ConnectionClosed(AssertionError):
    """The server closed TCP where a frame was expected."""


class ServerProtocolViolation(AssertionError):
    """The server sent something RFC 6455 forbids a server to send."""


class HandshakeRefused(AssertionError):
    def __init__(self, response):
        super().__init__(f"handshake refused: {response.status} {response.reason} "
                         f"{response.headers} {response.body[:200]!r}")
        self.response = response


def upgrade_request(path="/", host="127.0.0.1", key=None, headers=None, version="13"):
    """A valid upgrade request. `headers` (list of (name, value)) are added; a value of
    None removes the default header of that name."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    base = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    extra = list(headers or [])
    removed = {name.lower() for name, value in extra if value is None}
    lines = [f"GET {path} HTTP/1.1"]
    lines += [f"{n}: {v}" for n, v in base if n.lower() not in removed]
    lines += [f"{n}: {v}" for n, v in extra if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1"), key


class RawClient:
    """A WebSocket client that does nothing on its own: it never answers pings or closes
    unless told to, so a test sees and controls every frame."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.response = None
        self.subprotocol = None
        self._partial = None   # (opcode, bytearray) of a fragmented message being received
        self.close_sent = False
        self.write_refused = False

    @classmethod
    def connect(cls, port, path="/", headers=None, timeout=10.0, rcvbuf=None, key=None,
                first_bytes=b"", request=None, source=None):
        """Connects and completes the opening handshake; raises HandshakeRefused with the
        response when the server does not answer 101. `first_bytes` are sent in the same
        write as the request (a client pipelining its first frame). `request` replaces the
        generated request entirely (then pass its `key`). `source` is a local address to
        connect from (another loopback address such as "127.0.0.2": another client)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source is not None:
            sock.bind((source, 0))
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = cls(sock)
        if request is None:
            request, key = upgrade_request(path=path, key=key, headers=headers)
        try:
            sock.sendall(request + first_bytes)
            head = client._read_until(b"\r\n\r\n", time.monotonic() + timeout)
        except BaseException:
            sock.close()
            raise
        status, reason, hdrs = parse_http_response_head(head)
        response = HttpResponse(status, reason, hdrs, b"", False)
        client.response = response
        if status != 101:
            body = bytes(client.buf)
            sock.close()
            raise HandshakeRefused(response._replace(body=body))
        if response.header("sec-websocket-accept") != accept_for(key):
            sock.close()
            raise ServerProtocolViolation(
                f"Sec-WebSocket-Accept {response.header('sec-websocket-accept')!r}, expected "
                f"{accept_for(key)!r}")
        client.subprotocol = response.header("sec-websocket-protocol")
        return client

    def _read_until(self, marker, deadline):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[:i + len(marker)]
                return head
            self._fill(deadline, "the HTTP response head")

    def _fill(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out waiting for {what}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise TimeoutError(f"timed out waiting for {what}") from None
        except ConnectionResetError:
            raise ConnectionClosed(f"connection reset while waiting for {what}") from None
        if not chunk:
            raise ConnectionClosed(f"server closed the connection while waiting for {what}")
        self.buf += chunk

    # -- sending ----------------------------------------------------------------------

    def send_raw(self, data, chop=None, delay_s=0.0):
        """Sends bytes as they are; `chop` splits them into writes of that many bytes,
        `delay_s` apart, so the server sees frames split at every possible place.

        A server may fail the connection while bytes it will never read are still being
        written (the rest of a chopped stream): when the connection is closed under a
        write, the write stops quietly and `write_refused` is set; what the server sent
        before closing is still there to be read and asserted on."""
        pieces = [data] if not chop else [data[i:i + chop] for i in range(0, len(data), chop)]
        for piece in pieces:
            try:
                self.sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                self.write_refused = True
                return
            if delay_s:
                time.sleep(delay_s)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, chop=None,
                   delay_s=0.0):
        self.send_raw(build_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask),
                      chop=chop, delay_s=delay_s)

    def send_text(self, text, **kw):
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text, **kw)

    def send_binary(self, data, **kw):
        self.send_frame(OP_BINARY, data, **kw)

    def send_ping(self, data=b"", **kw):
        self.send_frame(OP_PING, data, **kw)

    def send_close(self, code=None, reason=b"", **kw):
        self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)
        self.close_sent = True

    # -- receiving --------------------------------------------------------------------

    def recv_frame(self, timeout=10.0):
        """The next frame exactly as the server sent it."""
        deadline = time.monotonic() + timeout
        while True:
            frame, used = _decode_frame(self.buf)
            if frame is not None:
                del self.buf[:used]
                return frame
            self._fill(deadline, "a frame from the server")

    def next_event(self, timeout=10.0):
        """The next Message (fragments joined), Ping, Pong or Close, after checking that
        the server's frames obey RFC 6455 (unmasked, no RSV, sane fragmentation, valid
        UTF-8 text, well-formed close payload)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if frame.masked:
                raise ServerProtocolViolation(f"server sent a masked frame: {frame[:4]}")
            if frame.rsv:
                raise ServerProtocolViolation(f"server set RSV bits {frame.rsv:#o}")
            if frame.opcode >= 0x8:
                if not frame.fin or len(frame.payload) > 125:
                    raise ServerProtocolViolation("server sent a fragmented or >125-byte "
                                                  f"control frame, opcode {frame.opcode:#x}")
                if frame.opcode == OP_PING:
                    return Ping(frame.payload)
                if frame.opcode == OP_PONG:
                    return Pong(frame.payload)
                if frame.opcode == OP_CLOSE:
                    return _parse_close(frame.payload)
                raise ServerProtocolViolation(f"server sent unknown opcode {frame.opcode:#x}")
            if frame.opcode == OP_CONT:
                if self._partial is None:
                    raise ServerProtocolViolation("server sent a continuation with no message")
                self._partial[1].extend(frame.payload)
            elif frame.opcode in (OP_TEXT, OP_BINARY):
                if self._partial is not None:
                    raise ServerProtocolViolation("server started a message inside another")
                self._partial = (frame.opcode, bytearray(frame.payload))
            else:
                raise ServerProtocolViolation(f"server sent unknown opcode {frame.opcode:#x}")
            if frame.fin:
                opcode, data = self._partial
                self._partial = None
                if opcode == OP_TEXT:
                    try:
                        bytes(data).decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise ServerProtocolViolation(f"server sent invalid UTF-8 text: {e}")
                return Message(opcode, bytes(data))

    def recv_message(self, timeout=10.0):
        """The next event, asserted to be a data message."""
        event = self.next_event(timeout)
        if not isinstance(event, Message):
            raise AssertionError(f"expected a data message, got {event!r}")
        return event

    def expect_close(self, code, timeout=10.0, reply=True, half_close=True):
        """Asserts the next event is a Close with `code` (a set of acceptable codes also
        works), answers it with the same code (unless `reply` is False or we already sent
        ours) and asserts the server then closes TCP. Returns the Close.

        `half_close` also shuts down our side for writing after the reply. A server that
        failed a connection may no longer parse what follows the bad bytes, so it can only
        see our close as the end of the stream; without the half-close it would wait for
        close_timeout. Tests of the close handshake itself pass half_close=False."""
        try:
            event = self.next_event(timeout)
        except ConnectionClosed as e:
            raise AssertionError(f"expected close {code}, but the server dropped TCP "
                                 f"without a close frame ({e})") from None
        except TimeoutError:
            raise AssertionError(f"expected close {code} within {timeout:.0f} s, "
                                 "got nothing") from None
        codes = code if isinstance(code, (set, frozenset, tuple, list)) else {code}
        if not isinstance(event, Close) or event.code not in codes:
            raise AssertionError(f"expected Close({code}), got {event!r}")
        if reply and not self.close_sent:
            try:
                self.send_close(event.code)
            except (BrokenPipeError, ConnectionResetError):
                pass
        if half_close:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.expect_tcp_closed(timeout)
        return event

    def close_handshake(self, code=1000, reason=b"", timeout=10.0):
        """Client-initiated close: sends Close(code) and asserts the server answers with
        the same code and then closes TCP."""
        self.send_close(code, reason)
        event = self.next_event(timeout)
        if not isinstance(event, Close) or event.code != code:
            raise AssertionError(f"sent Close({code}), expected it echoed, got {event!r}")
        self.expect_tcp_closed(timeout)
        return event

    def expect_tcp_closed(self, timeout=10.0):
        """Asserts the server closes TCP within `timeout` and sends nothing before that
        (nothing may follow a close frame)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.buf:
                raise ServerProtocolViolation(f"server sent bytes after its close frame: "
                                              f"{bytes(self.buf[:40])!r}")
            try:
                self._fill(deadline, "the server to close TCP")
            except ConnectionClosed:
                return
            except TimeoutError:
                raise AssertionError(f"server did not close TCP within {timeout:.0f} s "
                                     "of the close handshake") from None

    def expect_silence(self, seconds):
        """Asserts nothing arrives for `seconds` (used sparingly: costs wall time)."""
        try:
            frame = self.recv_frame(seconds)
        except TimeoutError:
            return
        raise AssertionError(f"expected no frame for {seconds} s, got {frame!r}")

    def echo_roundtrip(self, data=b"are you there?", timeout=10.0):
        """Sends a binary message and asserts it comes back unchanged."""
        self.send_binary(data)
        got = self.recv_message(timeout)
        if got != Message(OP_BINARY, data):
            raise AssertionError(f"echo of {len(data)} bytes came back as {got!r}")

    def abort(self):
        """Closes the socket with an RST (SO_LINGER 0): an abrupt client."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()


def _decode_frame(buf):
    """Decodes one frame from the start of `buf`: (Frame, bytes used) or (None, 0)."""
    if len(buf) < 2:
        return None, 0
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None, 0
        n = struct.unpack_from("!H", buf, 2)[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None, 0
        n = struct.unpack_from("!Q", buf, 2)[0]
        pos = 10
    masked = bool(b1 & 0x80)
    key = None
    if masked:
        if len(buf) < pos + 4:
            return None, 0
        key = bytes(buf[pos:pos + 4])
        pos += 4
    if len(buf) < pos + n:
        return None, 0
    payload = bytes(buf[pos:pos + n])
    if masked:
        payload = apply_mask(payload, key)
    return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, payload), pos + n


def _parse_close(payload):
    if len(payload) == 0:
        return Close(None, b"")
    if len(payload) == 1:
        raise ServerProtocolViolation("server sent a 1-byte close payload")
    code = struct.unpack("!H", payload[:2])[0]
    reason = payload[2:]
    try:
        reason.decode("utf-8")
    except UnicodeDecodeError:
        raise ServerProtocolViolation(f"server sent an invalid UTF-8 close reason {reason!r}")
    return Close(code, reason)
