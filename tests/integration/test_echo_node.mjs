// Echo through the most used Node.js client, ws (version pinned in package.json), against
// `tidegate --echo true`: sizes, text and binary, fragmented sends, ping/pong, the close
// handshake with the client's code and reason, and 200 clients at once.
//
// Runs with `node --test test_echo_node.mjs` in tests/integration (ctest does this), after
// `npm install --prefix tests/integration`. TIDEGATE_BIN names the binary.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';

import { startServer as spawnServer, stopServer } from './tidegate_server.mjs';
import {
  awaitable, closeAsync, metricSum, scrapeMetrics, sendAsync, withDeadline,
} from './ws_client.mjs';

const MIB = 1024 * 1024;

// ---- the server process (tidegate_server.mjs) ----

function startServer(args, workers = 2) {
  return spawnServer(['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
    '--workers', String(workers), ...args], ['ws', 'admin']);
}

// ---- a client whose messages can be awaited one at a time (ws_client.mjs) ----

function open(server, options = {}) {
  return awaitable(new WebSocket(`ws://127.0.0.1:${server.ports.ws}/`,
    { perMessageDeflate: false, maxPayload: 4 * MIB, ...options }));
}

function textOf(size) {
  const unit = 'tidegate ✓ κόσμε 𤭢 ';
  const unitBytes = Buffer.byteLength(unit);
  return unit.repeat(Math.floor(size / unitBytes)) + 'x'.repeat(size % unitBytes);
}

function binaryOf(size) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = (i * 7) & 0xff;
  return buf;
}

// ---- the scenarios ----

describe('echo with the ws client', () => {
  let server;
  before(async () => {
    server = await startServer(['--echo', 'true', '--max-message-bytes', '2m',
      '--send-queue-bytes-max', '8m']);
  });
  after(async () => { if (server) await stopServer(server); });

  for (const size of [0, 1, 125, 126, 65535, 65536, MIB]) {
    it(`echoes a ${size}-byte text message as text, unchanged`, async () => {
      const ws = await open(server);
      const text = textOf(size);
      assert.equal(Buffer.byteLength(text), size);
      await sendAsync(ws, text);
      const { data, isBinary } = await ws.nextMessage();
      assert.equal(isBinary, false);
      assert.equal(data.toString('utf8'), text);
      assert.equal((await closeAsync(ws)).code, 1000);
    });

    it(`echoes a ${size}-byte binary message as binary, unchanged`, async () => {
      const ws = await open(server);
      const blob = binaryOf(size);
      await sendAsync(ws, blob, { binary: true });
      const { data, isBinary } = await ws.nextMessage();
      assert.equal(isBinary, true);
      assert.ok(blob.equals(data), `${size}-byte binary changed`);
      assert.equal((await closeAsync(ws)).code, 1000);
    });
  }

  it('joins a text message sent in fragments (fin: false) and echoes it whole', async () => {
    const ws = await open(server);
    await sendAsync(ws, 'first ', { fin: false });
    await sendAsync(ws, 'κόσμε ', { fin: false });
    await sendAsync(ws, 'last', { fin: true });
    const { data, isBinary } = await ws.nextMessage();
    assert.equal(isBinary, false);
    assert.equal(data.toString('utf8'), 'first κόσμε last');
    await closeAsync(ws);
  });

  it('joins a binary message sent in fragments, with a ping between them', async () => {
    const ws = await open(server);
    const parts = [binaryOf(70000), binaryOf(0), binaryOf(125)];
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    await sendAsync(ws, parts[0], { binary: true, fin: false });
    ws.ping(Buffer.from('mid-message'));
    await sendAsync(ws, parts[1], { binary: true, fin: false });
    await sendAsync(ws, parts[2], { binary: true, fin: true });
    assert.equal((await withDeadline(pong, 'the pong')).toString(), 'mid-message');
    const { data, isBinary } = await ws.nextMessage();
    assert.equal(isBinary, true);
    assert.ok(Buffer.concat(parts).equals(data));
    await closeAsync(ws);
  });

  it('answers pings with pongs carrying the same payload', async () => {
    const ws = await open(server);
    for (const payload of [Buffer.alloc(0), Buffer.from('hello'), binaryOf(125)]) {
      const pong = new Promise((resolve) => ws.once('pong', resolve));
      ws.ping(payload);
      assert.ok(payload.equals(await withDeadline(pong, 'the pong')));
    }
    await closeAsync(ws);
  });

  for (const [code, reason] of [[1000, ''], [1001, 'tab closed'], [3000, 'app: bye'], [4999, 'κόσμε']]) {
    it(`answers close ${code} "${reason}" with the same code and reason`, async () => {
      const ws = await open(server);
      await sendAsync(ws, 'still here');
      await ws.nextMessage();
      const closed = await closeAsync(ws, code, reason);
      assert.equal(closed.code, code);
      assert.equal(closed.reason, reason);
    });
  }

  it('serves 200 clients at once, each getting its own echoes', async () => {
    const before = await scrapeMetrics(server);
    const clients = [];
    for (let batch = 0; batch < 4; batch++) {
      clients.push(...await Promise.all(Array.from({ length: 50 }, () => open(server))));
    }
    const during = await scrapeMetrics(server);
    assert.ok(metricSum(during, 'tidegate_connections_open') -
      metricSum(before, 'tidegate_connections_open') >= 200, 'the open-connections gauge counts all 200');
    for (const worker of ['0', '1']) {
      assert.ok(metricSum(during, 'tidegate_connections_accepted_total', `worker="${worker}"`) >
        metricSum(before, 'tidegate_connections_accepted_total', `worker="${worker}"`),
        `worker ${worker} accepted none of 200 connections`);
    }
    await Promise.all(clients.map(async (ws, i) => {
      for (let round = 0; round < 3; round++) {
        const message = `client ${i} round ${round} ${'y'.repeat(i)}`;
        await sendAsync(ws, message);
        const { data } = await ws.nextMessage();
        assert.equal(data.toString(), message);
      }
    }));
    const closes = await Promise.all(clients.map((ws) => closeAsync(ws)));
    assert.ok(closes.every((c) => c.code === 1000));
  });
});
