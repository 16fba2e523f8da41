"""Echo through a real client library: Python's websockets (10.4, Debian's) against
`tidegate --echo true`. Messages of every size class up to 16 MiB, text and binary, whole
and fragmented, pings, the close handshake with the client's code, and 400 clients at once
spread over two workers.

The server allows 17 MiB messages and 32 MiB of send queue here so a 16 MiB message fits."""

import asyncio
import os
import sys
import unittest

import websockets

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from tidegate_harness import ServerTestCase  # noqa: E402

MIB = 1024 * 1024
SIZES = [0, 1, 125, 126, 65535, 65536, 1 * MIB]
TIMEOUT_S = 30


def text_of(size):
    """A str of exactly `size` UTF-8 bytes with multi-byte characters in it."""
    unit = "tidegate ✓ κόσμε 𤭢 "      # 31 bytes of UTF-8
    text = unit * (size // len(unit.encode()))
    return text + "x" * (size - len(text.encode()))


def binary_of(size):
    return bytes(i * 7 % 256 for i in range(min(size, 65536))) * (size // 65536) + \
        bytes(i * 7 % 256 for i in range(size % 65536))


class TestEchoPython(ServerTestCase):
    server_args = ("--echo", "true", "--max-message-bytes", "17m",
                   "--send-queue-bytes-max", "32m")

    def uri(self):
        return f"ws://127.0.0.1:{self.server.ws_port}/"

    def ws_connect(self, **kw):
        kw.setdefault("compression", None)
        kw.setdefault("max_size", 17 * MIB)
        kw.setdefault("ping_interval", None)
        kw.setdefault("open_timeout", TIMEOUT_S)
        kw.setdefault("close_timeout", TIMEOUT_S)
        return websockets.connect(self.uri(), **kw)

    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 120))

    async def echo(self, ws, message):
        await ws.send(message)
        return await asyncio.wait_for(ws.recv(), TIMEOUT_S)

    def test_text_messages_of_every_length_class_come_back_unchanged(self):
        async def scenario():
            async with self.ws_connect() as ws:
                for size in SIZES:
                    message = text_of(size)
                    self.assertEqual(len(message.encode()), size)
                    got = await self.echo(ws, message)
                    self.assertIsInstance(got, str, f"{size}-byte text came back as binary")
                    self.assertEqual(got, message, f"{size}-byte text changed")
        self.run_async(scenario())

    def test_binary_messages_of_every_length_class_come_back_unchanged(self):
        async def scenario():
            async with self.ws_connect() as ws:
                for size in SIZES:
                    message = binary_of(size)
                    got = await self.echo(ws, message)
                    self.assertIsInstance(got, bytes, f"{size}-byte binary came back as text")
                    self.assertEqual(got, message, f"{size}-byte binary changed")
        self.run_async(scenario())

    def test_16_mib_messages_come_back_unchanged(self):
        async def scenario():
            async with self.ws_connect() as ws:
                blob = binary_of(16 * MIB)
                self.assertEqual(await self.echo(ws, blob), blob)
                text = text_of(16 * MIB)
                self.assertEqual(await self.echo(ws, text), text)
        self.run_async(scenario())

    def test_fragmented_messages_are_echoed_whole(self):
        async def scenario():
            async with self.ws_connect() as ws:
                await ws.send(["frag-1 ", "frag-2 κόσμε ", "", "frag-4"])
                self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S),
                                 "frag-1 frag-2 κόσμε frag-4")
                parts = [binary_of(70000), b"", binary_of(3), binary_of(1 * MIB)]
                await ws.send(parts)
                self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), b"".join(parts))
        self.run_async(scenario())

    def test_many_messages_in_flight_come_back_in_order(self):
        async def scenario():
            async with self.ws_connect(max_queue=None) as ws:
                sent = [f"message {i} " * (i % 50) for i in range(500)]
                for m in sent:
                    await ws.send(m)
                got = [await asyncio.wait_for(ws.recv(), TIMEOUT_S) for _ in sent]
                self.assertEqual(got, sent)
        self.run_async(scenario())

    def test_pings_are_answered_with_their_payload(self):
        async def scenario():
            async with self.ws_connect() as ws:
                for payload in (b"", b"hello", bytes(range(125))):
                    pong = await ws.ping(payload)
                    await asyncio.wait_for(pong, TIMEOUT_S)   # websockets matches the payload
                # a ping between messages does not disturb them
                await ws.send("before")
                pong = await ws.ping(b"between")
                await ws.send("after")
                await asyncio.wait_for(pong, TIMEOUT_S)
                self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), "before")
                self.assertEqual(await asyncio.wait_for(ws.recv(), TIMEOUT_S), "after")
        self.run_async(scenario())

    def test_close_codes_round_trip(self):
        async def scenario():
            for code, reason in ((1000, ""), (1001, "going away"), (3000, "app: done"),
                                 (4999, "private κόσμε")):
                ws = await self.ws_connect()
                self.assertEqual(await self.echo(ws, "still open"), "still open")
                await ws.close(code, reason)
                self.assertEqual(ws.close_code, code, f"sent close {code}, server answered "
                                 f"{ws.close_code}")
        self.run_async(scenario())

    def test_400_clients_echo_concurrently_across_both_workers(self):
        before = self.server.metrics()

        async def one_client(i, opened, release):
            async with self.ws_connect() as ws:
                opened.release()
                await release.wait()
                for round_ in range(3):
                    message = f"client {i} round {round_} " + "x" * (i % 300)
                    self.assertEqual(await self.echo(ws, message), message)

        async def scenario():
            opened = asyncio.Semaphore(0)
            release = asyncio.Event()
            connect_slots = asyncio.Semaphore(50)   # do not flood the accept queue

            async def throttled(i):
                async with connect_slots:
                    inner = asyncio.Semaphore(0)
                    task = asyncio.ensure_future(one_client(i, inner, release))
                    await inner.acquire()
                    opened.release()
                    return task

            tasks = await asyncio.gather(*(throttled(i) for i in range(400)))
            for _ in range(400):
                await opened.acquire()
            # all 400 are open at once: the gauge and both workers must show them
            open_now = await asyncio.to_thread(self.server.metrics)
            release.set()
            await asyncio.gather(*tasks)
            return open_now

        open_now = self.run_async(scenario())
        self.assertGreaterEqual(open_now.value("tidegate_connections_open") -
                                before.value("tidegate_connections_open"), 400)
        for worker in range(self.workers):
            accepted = (open_now.value("tidegate_connections_accepted_total", worker=worker) -
                        before.value("tidegate_connections_accepted_total", worker=worker))
            self.assertGreater(accepted, 0, f"worker {worker} accepted none of 400 connections")
        self.server.wait_for_metric(
            lambda m: m.value("tidegate_connections_open") <=
            before.value("tidegate_connections_open"),
            "tidegate_connections_open back to its value before the 400 clients")


if __name__ == "__main__":
    unittest.main()
