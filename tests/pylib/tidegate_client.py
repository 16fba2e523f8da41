"""A client of the channel protocol (docs/protocol.md) for the integration tests, on
Python's websockets 10.4 (asyncio), plus a test case base class that starts a gateway
with an HS256 key and runs async scenarios with a deadline.

    class TestX(ProtocolTestCase):
        server_args = ("--namespace.chat.presence=on",)

        @scenario()
        async def test_something(self):
            alice = await self.user("alice", caps=ALL_CAPS)     # opened and connected
            joined = await alice.join("chat:lobby")
            ack = await alice.publish("chat:lobby", {"text": "hi"})

Every wait is bounded (TIMEOUT_S unless told). A Client keeps what it received but did not
ask for yet in an inbox, so replies and events may arrive in any order the spec allows and
a test still finds each one; `until()` returns what came before a given message, for
checks that something was NOT delivered (the spec orders everything about one channel, so
"not before the next message of that channel" is a bounded check that needs no sleep).

Server messages are parsed strictly: valid JSON, no NaN, no duplicate keys. `Msg` is the
parsed object (a dict) with the exact text in `.raw`."""

import asyncio
import functools
import itertools
import json
import os
import re
import sys
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tidegate_harness import (OP_PONG, OP_TEXT, Close, Message, Ping,  # noqa: E402
                              ServerTestCase)
from tidegate_tokens import jwt_keys_arg, make_token, write_secret  # noqa: E402

TIMEOUT_S = 5.0
ALL_CAPS = {"join": ["*"], "publish": ["*"]}
EVENT_TYPES = ("message", "user_online", "user_offline", "user_typing", "gap", "disconnect")
ERROR_CODES = ("bad_request", "unknown_type", "not_connected", "already_connected",
               "channel_name_invalid", "unknown_namespace", "not_authorized",
               "already_joined", "not_joined", "too_many_channels", "rate_limited",
               "message_too_large", "presence_disabled", "typing_disabled",
               "history_disabled", "epoch_mismatch", "channel_full", "server_busy",
               "storage_unavailable", "internal_error")
EPOCH_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Msg(dict):
    """One server message: the parsed object, with the text as received in `raw`."""

    def __init__(self, raw, obj):
        super().__init__(obj)
        self.raw = raw

    def __repr__(self):
        shown = self.raw if len(self.raw) <= 300 else self.raw[:300] + "..."
        return f"Msg({shown})"


class Closed(AssertionError):
    """The connection closed where a message was expected. `code` is the server's close
    code (None when TCP went away without a close frame)."""

    def __init__(self, label, code, reason):
        super().__init__(f"{label}: connection closed by the server (close code {code}, "
                         f"reason {reason!r}) while a message was expected")
        self.code = code
        self.reason = reason


class _Pairs(list):
    """An object as parsed, before duplicate keys are resolved."""


def _to_dicts(value, top):
    """Turns _Pairs into dicts; a duplicate key at the top level of a server message is
    an error (inside `data` duplicates are the publisher's and are forwarded as sent)."""
    if isinstance(value, _Pairs):
        keys = [k for k, _ in value]
        if top and len(set(keys)) != len(keys):
            raise AssertionError(f"server sent a duplicate top-level key: {keys}")
        return {k: _to_dicts(v, False) for k, v in value}
    if isinstance(value, list):
        return [_to_dicts(v, False) for v in value]
    return value


def _no_constants(name):
    raise AssertionError(f"server sent {name}, which is not JSON")


def parse_server_text(raw):
    """Parses a server message strictly into a Msg; asserts it is one JSON object."""
    try:
        obj = json.loads(raw, object_pairs_hook=_Pairs, parse_constant=_no_constants)
    except ValueError as e:
        raise AssertionError(f"server sent invalid JSON ({e}): {raw[:300]!r}") from None
    obj = _to_dicts(obj, True)
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise AssertionError(f"server message is not an object with a type: {raw[:300]!r}")
    return Msg(raw, obj)


def compact(obj):
    """JSON text without insignificant whitespace, non-ASCII kept as UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def id_text(value):
    """The JSON text of an id as the client sends it (the server echoes exactly this)."""
    return compact(value)


class Client:
    """One WebSocket connection speaking the protocol."""

    _ids = itertools.count(1)

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.inbox = []
        self.close_code = None
        self.close_reason = None
        self.connected = None   # the `connected` message once there is one

    @classmethod
    async def open(cls, port, token=None, path="/", label="client", timeout=TIMEOUT_S):
        """Opens ws://127.0.0.1:port/path, with ?token= when `token` is given ("" sends an
        empty parameter). Nothing is sent."""
        uri = f"ws://127.0.0.1:{port}{path}"
        if token is not None:
            uri += ("&" if "?" in path else "?") + "token=" + token
        ws = await asyncio.wait_for(websockets.connect(
            uri, compression=None, ping_interval=None, max_queue=None, max_size=64 << 20,
            open_timeout=timeout, close_timeout=timeout), timeout)
        return cls(ws, label)

    # -- sending ----------------------------------------------------------------------

    async def send(self, message):
        """Sends a dict (serialized compactly) or a str exactly as given."""
        text = message if isinstance(message, str) else compact(message)
        await asyncio.wait_for(self.ws.send(text), TIMEOUT_S)

    async def send_request(self, type_, id=None, **fields):
        """Sends {"type", "id" (when not None), **fields}; returns the id."""
        message = {"type": type_}
        if id is not None:
            message["id"] = id
        message.update(fields)
        await self.send(message)
        return id

    def new_id(self):
        return next(Client._ids)

    # -- receiving --------------------------------------------------------------------

    async def _read(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{self.label}: no {what} within the deadline; "
                                 f"unclaimed: {self.inbox[:8]!r}")
        try:
            raw = await asyncio.wait_for(self.ws.recv(), left)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.label}: no {what} within {left:.1f} s; "
                                 f"unclaimed: {self.inbox[:8]!r}") from None
        except websockets.exceptions.ConnectionClosed as e:
            self.close_code = e.rcvd.code if e.rcvd is not None else None
            self.close_reason = e.rcvd.reason if e.rcvd is not None else None
            raise Closed(self.label, self.close_code, self.close_reason) from None
        if isinstance(raw, bytes):
            raise AssertionError(f"{self.label}: server sent a binary message {raw[:80]!r}")
        return parse_server_text(raw)

    async def next(self, pred=None, timeout=TIMEOUT_S, what="message"):
        """The first message (inbox first, then the wire) for which pred(msg) is true;
        others stay in the inbox in order."""
        for i, m in enumerate(self.inbox):
            if pred is None or pred(m):
                return self.inbox.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = await self._read(deadline, what)
            if pred is None or pred(m):
                return m
            self.inbox.append(m)

    async def next_of(self, type_, channel=None, timeout=TIMEOUT_S, **fields):
        """The next message of `type_` (and channel, and given field values)."""
        def pred(m):
            return (m["type"] == type_ and (channel is None or m.get("channel") == channel)
                    and all(m.get(k) == v for k, v in fields.items()))
        return await self.next(pred, timeout, f"{type_} {channel or ''} {fields or ''}")

    async def until(self, pred, timeout=TIMEOUT_S, what="marker message"):
        """Returns (messages before the first one matching pred, that one), taking all of
        them out of the inbox: for asserting what did or did not arrive before it."""
        before = []
        while self.inbox:
            m = self.inbox.pop(0)
            if pred(m):
                return before, m
            before.append(m)
        deadline = time.monotonic() + timeout
        while True:
            m = await self._read(deadline, what)
            if pred(m):
                return before, m
            before.append(m)

    async def reply(self, id, timeout=TIMEOUT_S):
        """The reply to the request with `id` (events never carry an id)."""
        m = await self.next(lambda m: "id" in m and m["id"] == id and
                            type(m["id"]) is type(id), timeout, f"reply to id {id!r}")
        if m["type"] in EVENT_TYPES:
            raise AssertionError(f"{self.label}: an event carries an id: {m!r}")
        return m

    async def request(self, type_, timeout=TIMEOUT_S, id=None, **fields):
        """Sends a request with a fresh integer id (or `id`) and returns its reply, after
        asserting the id is echoed right after `type`."""
        if id is None:
            id = self.new_id()
        await self.send_request(type_, id, **fields)
        m = await self.reply(id, timeout)
        head = '{"type":%s,"id":%s' % (compact(m["type"]), id_text(id))
        if not m.raw.startswith(head):
            raise AssertionError(f"{self.label}: reply does not start with {head!r}: {m!r}")
        return m

    async def call(self, type_, expect, timeout=TIMEOUT_S, **fields):
        """request() and assert the reply's type is `expect`."""
        m = await self.request(type_, timeout, **fields)
        if m["type"] != expect:
            raise AssertionError(f"{self.label}: {type_} {fields} answered {m!r}, "
                                 f"expected {expect}")
        return m

    # -- the protocol's requests ------------------------------------------------------

    async def connect(self, token=None):
        fields = {} if token is None else {"token": token}
        self.connected = await self.call("connect", "connected", **fields)
        return self.connected

    async def await_connected(self, timeout=TIMEOUT_S):
        """For a token in the URL: the unasked `connected`, which carries no id."""
        m = await self.next(None, timeout, "connected")
        if m["type"] != "connected" or "id" in m:
            raise AssertionError(f"{self.label}: expected connected without id, got {m!r}")
        self.connected = m
        return m

    async def join(self, channel, since=None, timeout=TIMEOUT_S):
        fields = {"channel": channel}
        if since is not None:
            fields["since"] = since
        m = await self.call("join_channel", "joined", timeout, **fields)
        check_joined(m, channel)
        return m

    async def leave(self, channel):
        m = await self.call("leave_channel", "left", channel=channel)
        if m.get("channel") != channel or m.get("reason") != "client":
            raise AssertionError(f"{self.label}: bad left reply {m!r}")
        return m

    async def publish(self, channel, data=None, raw_data=None, timeout=TIMEOUT_S):
        """send_message with `data` (a Python value) or `raw_data` (JSON text sent as is);
        returns the ack."""
        if raw_data is None:
            return await self.call("send_message", "ack", timeout, channel=channel, data=data)
        id = self.new_id()
        await self.send('{"type":"send_message","id":%d,"channel":%s,"data":%s}'
                        % (id, compact(channel), raw_data))
        m = await self.reply(id, timeout)
        if m["type"] != "ack":
            raise AssertionError(f"{self.label}: send_message answered {m!r}")
        return m

    async def error(self, type_, code, **fields):
        """Sends a request that must fail with `code`; returns the checked error."""
        m = await self.request(type_, **fields)
        return check_error(m, code, request_type=type_)

    async def ping(self, timeout=TIMEOUT_S):
        """A protocol ping round trip: proves the connection is open and serving."""
        return await self.call("ping", "pong", timeout)

    async def expect_disconnect(self, code, reason=None, reconnect=None, timeout=TIMEOUT_S,
                                first=True):
        """Asserts a `disconnect` notice with `code` (the next message when `first`), then
        a close frame with the same code and nothing in between. Returns the notice."""
        if first:
            m = await self.next(None, timeout, f"disconnect {code}")
        else:
            m = await self.next_of("disconnect", timeout=timeout)
        if m["type"] != "disconnect":
            raise AssertionError(f"{self.label}: expected disconnect {code}, got {m!r}")
        check_disconnect(m, code, reason, reconnect)
        await self.expect_closed(code, timeout)
        return m

    async def expect_closed(self, code, timeout=TIMEOUT_S):
        """Asserts the server closes with `code` and sends nothing more first."""
        try:
            m = await self._read(time.monotonic() + timeout, f"close {code}")
        except Closed as e:
            if e.code != code:
                raise AssertionError(f"{self.label}: closed with {e.code}, expected {code}")
            return
        raise AssertionError(f"{self.label}: expected close {code}, got {m!r}")

    async def close(self):
        try:
            await asyncio.wait_for(self.ws.close(), TIMEOUT_S)
        except (asyncio.TimeoutError, OSError, websockets.exceptions.WebSocketException):
            self.abort()

    def abort(self):
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()


# ---------------------------------------------------------------------------------------
# Checks of server messages against protocol.md section 7


def check_error(m, code, request_type=None, id=None, channel=None, has_id=None):
    """Asserts `m` is an error with `code`; `request_type`, `id` and `channel` must match
    when given (channel=False asserts it is absent); has_id=False asserts no id."""
    if m.get("type") != "error" or m.get("code") != code:
        raise AssertionError(f"expected error {code}, got {m!r}")
    if not isinstance(m.get("message"), str) or not m["message"]:
        raise AssertionError(f"error without a message sentence: {m!r}")
    if request_type is not None and m.get("request_type") != request_type:
        raise AssertionError(f"error {code} should name request_type {request_type}: {m!r}")
    if id is not None and (m.get("id") != id or type(m.get("id")) is not type(id)):
        raise AssertionError(f"error {code} should carry id {id!r}: {m!r}")
    if has_id is False and "id" in m:
        raise AssertionError(f"error {code} must not carry an id: {m!r}")
    if channel is False and "channel" in m:
        raise AssertionError(f"error {code} must not name a channel: {m!r}")
    if channel and m.get("channel") != channel:
        raise AssertionError(f"error {code} should name channel {channel!r}: {m!r}")
    if ("retry_after_ms" in m) != (code in ("rate_limited", "server_busy")):
        raise AssertionError(f"retry_after_ms is only for rate_limited and server_busy: {m!r}")
    return m


def check_disconnect(m, code, reason=None, reconnect=None):
    if m.get("type") != "disconnect" or m.get("code") != code:
        raise AssertionError(f"expected disconnect {code}, got {m!r}")
    if "id" in m:
        raise AssertionError(f"disconnect is an event and carries no id: {m!r}")
    if reason is not None and m.get("reason") != reason:
        raise AssertionError(f"disconnect {code} reason should be {reason!r}: {m!r}")
    if not isinstance(m.get("message"), str) or not isinstance(m.get("reconnect"), bool):
        raise AssertionError(f"disconnect needs a message and a boolean reconnect: {m!r}")
    if reconnect is not None and m["reconnect"] is not reconnect:
        raise AssertionError(f"disconnect {code} reconnect should be {reconnect}: {m!r}")


def check_joined(m, channel):
    if m.get("channel") != channel or not EPOCH_RE.match(str(m.get("epoch"))):
        raise AssertionError(f"joined names the wrong channel or a bad epoch: {m!r}")
    if not is_uint(m.get("offset")) or not isinstance(m.get("recovered"), bool):
        raise AssertionError(f"joined needs an integer offset and a boolean recovered: {m!r}")
    if not isinstance(m.get("messages"), list):
        raise AssertionError(f"joined needs a messages array: {m!r}")
    if not m["recovered"] and m["messages"]:
        raise AssertionError(f"joined with recovered false must replay nothing: {m!r}")


def check_message(m, channel, epoch=None, offset=None, user_id=None):
    """Asserts `m` (a dict) is a channel message with the fields of section 7.4."""
    if m.get("type") != "message" or m.get("channel") != channel:
        raise AssertionError(f"expected a message of {channel}, got {m!r}")
    if "id" in m:
        raise AssertionError(f"message is an event and carries no id: {m!r}")
    for field in ("offset", "epoch", "timestamp", "user_id", "data"):
        if field not in m:
            raise AssertionError(f"message without {field}: {m!r}")
    if not is_uint(m["offset"]) or m["offset"] < 1 or not is_uint(m["timestamp"]):
        raise AssertionError(f"message offset/timestamp must be integers: {m!r}")
    if epoch is not None and m["epoch"] != epoch:
        raise AssertionError(f"message epoch {m['epoch']!r}, expected {epoch!r}")
    if offset is not None and m["offset"] != offset:
        raise AssertionError(f"message offset {m['offset']}, expected {offset}")
    if user_id is not None and m["user_id"] != user_id:
        raise AssertionError(f"message user_id {m['user_id']!r}, expected {user_id!r}")
    return m


def is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 2**53 - 1


def assert_recent_ms(timestamp_ms, slack_s=300):
    """A server timestamp is wall-clock milliseconds (section 2.7)."""
    now_ms = time.time() * 1000
    if not is_uint(timestamp_ms) or abs(timestamp_ms - now_ms) > slack_s * 1000:
        raise AssertionError(f"timestamp {timestamp_ms!r} is not close to now ({now_ms:.0f})")


# ---------------------------------------------------------------------------------------
# The same protocol over RawClient (tidegate_harness), for clients that must control the
# socket itself: one that stops reading, one that sends a binary frame.


def raw_send_json(client, message):
    client.send_frame(OP_TEXT, message if isinstance(message, str) else compact(message))


def raw_next_json(client, timeout=TIMEOUT_S):
    """The next text message as a Msg; server pings are answered and skipped. A Close
    is returned as it is, so callers can see where the stream ended."""
    deadline = time.monotonic() + timeout
    while True:
        event = client.next_event(max(0.0, deadline - time.monotonic()))
        if isinstance(event, Ping):
            client.send_frame(OP_PONG, event.data)
            continue
        if isinstance(event, Close):
            return event
        if not isinstance(event, Message) or event.opcode != OP_TEXT:
            raise AssertionError(f"expected a text message, got {event!r}")
        return parse_server_text(event.data.decode("utf-8"))


# ---------------------------------------------------------------------------------------
# Test cases


def scenario(timeout_s=30.0):
    """Runs an `async def test_...(self)` in a fresh event loop with a deadline; clients
    opened through the test case are aborted afterwards, whatever happened."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(self):
            async def body():
                self._clients = []
                try:
                    await asyncio.wait_for(fn(self), timeout_s)
                finally:
                    for c in self._clients:
                        c.abort()
            asyncio.run(body())
        return run
    return wrap


class ProtocolTestCase(ServerTestCase):
    """A gateway with one HS256 key ("main", tidegate_tokens.SECRET) in jwt_keys, plus the
    class's `server_args`."""

    jwt = True

    @classmethod
    def server_options(cls):
        args = []
        if cls.jwt:
            cls.secret_path = write_secret(cls.tmp_dir)
            args += ["--jwt-keys", jwt_keys_arg(cls.secret_path)]
        return tuple(args) + tuple(cls.server_args)

    async def open(self, token=None, path="/", label="client"):
        """A new connection (token in the URL when given); nothing is sent."""
        c = await Client.open(self.server.ws_port, token=token, path=path, label=label)
        self._clients.append(c)
        return c

    async def user(self, sub="alice", caps=None, label=None, in_url=False, **claims):
        """A connection of user `sub`, connected with a valid token (by `connect`, or in the
        URL when in_url)."""
        token = make_token(sub, caps=caps, **claims)
        label = label or sub
        if in_url:
            c = await self.open(token=token, label=label)
            await c.await_connected()
        else:
            c = await self.open(label=label)
            await c.connect(token)
        return c

    async def anonymous(self, label="anonymous"):
        c = await self.open(label=label)
        await c.connect(None)
        return c
