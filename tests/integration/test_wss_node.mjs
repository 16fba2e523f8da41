// wss through Node's ws client (version pinned in package.json) against `tidegate --echo
// true` with TLS on: echo of text and binary up to 900 KiB, fragmented sends, ping/pong, the
// close handshake, SNI choosing the certificate, ALPN http/1.1, a client that does not trust
// the certificate, and 100 clients at once over two workers.
//
// Certificates are made at test time by tests/unit/tls_certs/make_certs.sh into a temporary
// directory; the clients trust only its test CA. Runs with `node --test test_wss_node.mjs` in
// tests/integration (ctest does this). TIDEGATE_BIN names the binary.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';

import { SOURCE_DIR, startServer as spawnServer, stopServer } from './tidegate_server.mjs';
import {
  awaitable, closeAsync, metricSum, scrapeMetrics, sendAsync, withDeadline,
} from './ws_client.mjs';

const MAKE_CERTS = join(SOURCE_DIR, 'tests', 'unit', 'tls_certs', 'make_certs.sh');
const KIB = 1024;

// ---- the server process (tidegate_server.mjs) ----

function startServer(args, workers = 2) {
  return spawnServer(['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
    '--tls-listen', '127.0.0.1:0', '--workers', String(workers), ...args], ['wss', 'admin']);
}

async function metricSumNow(server, name, labelFilter = '') {
  return metricSum(await scrapeMetrics(server), name, labelFilter);
}

// ---- a wss client whose messages can be awaited one at a time (ws_client.mjs) ----

function open(server, ca, { servername = 'a.test', ...options } = {}) {
  const ws = new WebSocket(`wss://127.0.0.1:${server.ports.wss}/`,
    { perMessageDeflate: false, maxPayload: 2 * 1024 * KIB, ca, servername, ...options });
  ws.on('upgrade', (res) => {
    ws.peerCertificate = res.socket.getPeerCertificate();
    ws.alpn = res.socket.alpnProtocol;
  });
  return awaitable(ws);
}

// ---- the scenarios ----

describe('wss with the ws client', () => {
  let server;
  let certs;
  let ca;
  before(async () => {
    certs = mkdtempSync(join(tmpdir(), 'tidegate-wss-node-'));
    execFileSync('sh', [MAKE_CERTS, certs], { stdio: 'ignore', timeout: 120000 });
    ca = readFileSync(join(certs, 'ca.pem'));
    const pairs = ['a', 'b'].map((n) => `${join(certs, `${n}.pem`)}:${join(certs, `${n}.key`)}`);
    server = await startServer(['--echo', 'true', '--tls-certs', pairs.join(',')]);
  });
  after(async () => {
    if (server) await stopServer(server);
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  for (const size of [0, 125, 126, 16 * KIB, 65536, 900 * KIB]) {
    it(`echoes ${size} bytes as text and as binary, unchanged`, async () => {
      const ws = await open(server, ca);
      const text = 'κ'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
      await sendAsync(ws, text);
      let got = await ws.nextMessage();
      assert.equal(got.isBinary, false);
      assert.equal(got.data.toString('utf8'), text);
      const blob = Buffer.alloc(size, 0xa5);
      await sendAsync(ws, blob, { binary: true });
      got = await ws.nextMessage();
      assert.equal(got.isBinary, true);
      assert.ok(blob.equals(got.data), `${size}-byte binary changed`);
      assert.equal((await closeAsync(ws)).code, 1000);
    });
  }

  it('joins fragments, answers a ping, echoes the close code and reason', async () => {
    const ws = await open(server, ca);
    await sendAsync(ws, 'over ', { fin: false });
    await sendAsync(ws, 'tls', { fin: true });
    assert.equal((await ws.nextMessage()).data.toString(), 'over tls');
    const pong = withDeadline(new Promise((resolve) => ws.once('pong', resolve)), 'the pong');
    ws.ping(Buffer.from('are you there'));
    assert.equal((await pong).toString(), 'are you there');
    assert.deepEqual(await closeAsync(ws, 4100, 'leaving'), { code: 4100, reason: 'leaving' });
  });

  it('gets the certificate its SNI names, with ALPN http/1.1', async () => {
    for (const [servername, cn] of [['a.test', 'a.test'], ['b.test', 'b.test'], ['x.a.test', 'a.test']]) {
      const ws = await open(server, ca, { servername, ALPNProtocols: ['http/1.1'] });
      assert.equal(ws.peerCertificate.subject.CN, cn, `SNI ${servername}`);
      assert.equal(ws.alpn, 'http/1.1');
      await closeAsync(ws);
    }
  });

  it('refuses to connect when it does not trust the certificate', async () => {
    await assert.rejects(open(server, undefined), /self[- ]signed|unable to (get|verify)/i);
  });

  it('serves 100 clients at once over both workers', async () => {
    const before0 = await metricSumNow(server, 'tidegate_tls_handshakes_total', 'worker="0"');
    const before1 = await metricSumNow(server, 'tidegate_tls_handshakes_total', 'worker="1"');
    const clients = await Promise.all(Array.from({ length: 100 }, () => open(server, ca)));
    await Promise.all(clients.map(async (ws, i) => {
      await sendAsync(ws, `client ${i}`);
      assert.equal((await ws.nextMessage()).data.toString(), `client ${i}`);
    }));
    await Promise.all(clients.map((ws) => closeAsync(ws)));
    const grown0 = (await metricSumNow(server, 'tidegate_tls_handshakes_total', 'worker="0"')) - before0;
    const grown1 = (await metricSumNow(server, 'tidegate_tls_handshakes_total', 'worker="1"')) - before1;
    assert.equal(grown0 + grown1, 100);
    assert.ok(grown0 > 0 && grown1 > 0, `handshakes per worker: ${grown0}, ${grown1}`);
  });
});
