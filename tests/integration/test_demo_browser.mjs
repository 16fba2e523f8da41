// The demo page (docs/demo.md) in a real browser: Debian's headless Chromium driven by
// playwright-core (pinned in package.json) against `tidegate --demo-page` with an anonymous
// `demo` namespace. Two tabs (two browser contexts, so nothing is shared between them) open
// the page, join one room, and a message typed in one shows in the other, as text even when
// it looks like HTML; the page passes its own Content-Security-Policy (a violation fails the
// test). A tab disconnected by the server API comes back by itself and recovers what was
// published meanwhile with `since`. Then the same over wss: the page loaded over https from
// tls_listen connects with wss to where it came from.
//
// Screenshots are kept as test artifacts: $TIDEGATE_ARTIFACTS, else test-artifacts/ beside
// the binary (build-dir/test-artifacts/demo.png and demo-wss.png). Runs with
// `node --test test_demo_browser.mjs` in tests/integration (ctest does this); TIDEGATE_BIN
// names the binary. Needs /usr/bin/chromium (scripts/install-deps.sh) and `npm install` in
// tests/integration; without them it fails with a sentence saying so.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BINARY, SOURCE_DIR, startServer as spawnServer, stopServer } from './tidegate_server.mjs';

const ARTIFACTS = process.env.TIDEGATE_ARTIFACTS || join(dirname(BINARY), 'test-artifacts');
const MAKE_CERTS = join(SOURCE_DIR, 'tests', 'unit', 'tls_certs', 'make_certs.sh');
const CHROMIUM = '/usr/bin/chromium';
const API_KEY = 'demo-browser-test-key-0123456789abcdef';
const WAIT_MS = 10000;

// What the page needs from the gateway, as docs/demo.md tells operators.
const DEMO_ARGS = ['--demo-page', '--allow-anonymous', '--namespace.demo.join', 'anonymous',
  '--namespace.demo.publish', 'anonymous', '--namespace.demo.presence', 'on'];

async function loadPlaywright() {
  try {
    return (await import('playwright-core')).chromium;
  } catch (e) {
    throw new Error(`playwright-core is not installed (${e.message}): run ` +
      '`npm install --prefix tests/integration` (pinned in package-lock.json)');
  }
}

// ---- the server process (tidegate_server.mjs) ----

function startServer(args) {
  return spawnServer(['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
    '--api-listen', '127.0.0.1:0', '--api-keys', API_KEY, '--workers', '2', ...args]);
}

async function api(server, path, body) {
  const res = await fetch(`http://127.0.0.1:${server.ports.api}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// Whether this build has wss (the TLS options are in --help).
function tlsBuilt() {
  const help = execFileSync(BINARY, ['--help'], { encoding: 'utf8' });
  return help.includes('--tls-listen') && help.includes('--tls-certs');
}

// The base64 SHA-256 of a certificate's public key, as Chromium's
// --ignore-certificate-errors-spki-list wants it: only this key is accepted unverified.
function spkiHash(pemPath) {
  const cert = new X509Certificate(readFileSync(pemPath));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

// ---- a tab of the demo page ----

// Opens the page at `url` in a new browser context and records what would make it fail:
// script errors and console errors (a CSP violation is reported there).
async function openTab(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const tab = { context, page, problems: [], sockets: [] };
  page.on('pageerror', (e) => tab.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') tab.problems.push(`console error: ${m.text()}`);
  });
  page.on('websocket', (ws) => tab.sockets.push(ws.url()));
  const res = await page.goto(url);
  assert.equal(res.status(), 200, `GET ${url}`);
  return tab;
}

async function joinRoom(tab, name, room) {
  await tab.page.fill('#name', name);
  await tab.page.fill('#room', room);
  await tab.page.press('#room', 'Enter');
  await tab.page.waitForSelector('#status[data-state="joined"]');
}

async function say(tab, text) {
  await tab.page.fill('#text', text);
  await tab.page.press('#text', 'Enter');
}

// The messages shown, as [who, text] pairs in order.
function shown(tab) {
  return tab.page.$$eval('#messages li.msg', (items) => items.map((li) => [
    li.querySelector('.who').textContent, li.querySelector('.text').textContent]));
}

async function waitShown(tab, who, text) {
  await tab.page.waitForFunction(([w, t]) => [...document.querySelectorAll('#messages li.msg')]
    .some((li) => li.querySelector('.who').textContent === w &&
      li.querySelector('.text').textContent === t), [who, text]);
}

function people(tab) {
  return tab.page.$$eval('#people li', (items) => items.map((li) => li.textContent));
}

function stats(tab) {
  return tab.page.evaluate(() => ({ ...window.tidegateDemo.stats }));
}

function assertNoProblems(...tabs) {
  for (const tab of tabs) assert.deepEqual(tab.problems, [], 'the page logged errors');
}

async function screenshot(tab, file) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, file);
  await tab.page.screenshot({ path, fullPage: true });
  console.log(`# screenshot: ${path}`);
}

// ---- the scenarios ----

describe('the demo page in headless Chromium', () => {
  let chromium;
  let browser;
  let server;
  let certs = null;
  let wss = 'TLS is not in this build (no --tls-listen/--tls-certs in tidegate --help)';

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no ${CHROMIUM}: install Debian's chromium ` +
      '(scripts/install-deps.sh) to run the browser test');
    chromium = await loadPlaywright();
    const args = [...DEMO_ARGS];
    const browserArgs = ['--no-sandbox'];
    if (tlsBuilt()) {
      certs = mkdtempSync(join(tmpdir(), 'tidegate-demo-'));
      execFileSync('sh', [MAKE_CERTS, certs], { stdio: 'ignore', timeout: 120000 });
      args.push('--tls-listen', '127.0.0.1:0', '--tls-certs',
        `${join(certs, 'a.pem')}:${join(certs, 'a.key')}`);
      // a.test resolves to the gateway, whose test certificate (and nothing else) is
      // accepted without the test CA
      browserArgs.push('--host-resolver-rules=MAP a.test 127.0.0.1',
        `--ignore-certificate-errors-spki-list=${spkiHash(join(certs, 'a.pem'))}`);
      wss = false;
    }
    server = await startServer(args);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: browserArgs });
  });

  after(async () => {
    if (browser) await browser.close();
    if (server) await stopServer(server);
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  it('two tabs over ws: a message typed in one shows in the other, as text', async () => {
    const url = `http://127.0.0.1:${server.ports.ws}/`;
    const ada = await openTab(browser, url);
    const bob = await openTab(browser, `${url}demo`);
    await joinRoom(ada, 'Ada', 'lobby');
    await joinRoom(bob, 'Bob', 'lobby');
    await say(ada, 'hello from Ada');
    await waitShown(bob, 'Ada', 'hello from Ada');
    const trap = '<img src=x id=trap> & <script>window.owned = 1</script>';
    await say(bob, trap);
    await waitShown(ada, 'Bob', trap);
    assert.equal(await ada.page.locator('#messages img, #trap').count(), 0, 'markup was rendered');
    assert.equal(await ada.page.evaluate(() => window.owned), undefined);
    // each saw the other arrive (join notices, live or from history) and lists both
    await waitShown(ada, 'Bob', 'joined the room');
    await waitShown(bob, 'Ada', 'joined the room');
    assert.deepEqual(await people(bob), ['Ada', 'Bob (you)']);
    assert.deepEqual(await people(ada), ['Ada (you)', 'Bob']);
    assert.deepEqual((await shown(bob)).filter(([, t]) => t === 'hello from Ada'),
      [['Ada', 'hello from Ada']]);
    for (const tab of [ada, bob]) {
      assert.deepEqual(tab.sockets, [`ws://127.0.0.1:${server.ports.ws}/`]);
    }
    await screenshot(bob, 'demo.png');
    assertNoProblems(ada, bob);
    // the CSP lets the page reach its own origin only: another host is blocked
    const blocked = await ada.page.evaluate((port) => new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation',
        (e) => resolve(`${e.effectiveDirective} ${e.blockedURI}`), { once: true });
      try {
        new WebSocket(`ws://localhost:${port}/`);
      } catch (e) {
        resolve(`threw ${e.name}`);
      }
    }), server.ports.ws);
    assert.match(blocked, /^connect-src ws:\/\/localhost:\d+\/?$/);
    await ada.context.close();
    await bob.context.close();
  });

  it('a tab the server disconnects comes back and recovers what it missed', async () => {
    const url = `http://127.0.0.1:${server.ports.ws}/#recovery`;
    const ada = await openTab(browser, url);
    const bob = await openTab(browser, url);
    await joinRoom(ada, 'Ada', 'recovery');
    await joinRoom(bob, 'Bob', 'recovery');
    await say(ada, 'before');
    await waitShown(bob, 'Ada', 'before');
    const { clientId } = await stats(bob);
    assert.match(clientId, /\S/);
    // 4006: reconnect at once (protocol.md 10.1), then rejoin with since
    assert.deepEqual(await api(server, '/api/disconnect', { client_id: clientId, reconnect: true }),
      { disconnected: 1 });
    await api(server, '/api/publish', { channel: 'demo:recovery', data: { name: 'Ops', text: 'while away' } });
    await say(ada, 'after');
    await waitShown(bob, 'Ops', 'while away');
    await waitShown(bob, 'Ada', 'after');
    await bob.page.waitForSelector('#status[data-state="joined"]');
    const after = await stats(bob);
    assert.equal(after.connects, 2);
    assert.equal(after.joins, 2);
    assert.equal(after.recoveredJoins, 1, 'the second join used since and was recovered');
    assert.notEqual(after.clientId, clientId);
    const texts = (await shown(bob)).map(([, t]) => t);
    for (const t of ['before', 'while away', 'after']) {
      assert.equal(texts.filter((x) => x === t).length, 1, `"${t}" shown once in ${texts}`);
    }
    assert.deepEqual(texts.filter((t) => ['before', 'while away', 'after'].includes(t)),
      ['before', 'while away', 'after']);
    assertNoProblems(ada, bob);
    await ada.context.close();
    await bob.context.close();
  });

  it('two tabs over wss: the page from https connects with wss to where it came from', async (t) => {
    if (wss) {
      t.skip(wss);
      console.log(`# wss variant skipped: ${wss}`);
      return;
    }
    const origin = `https://a.test:${server.ports.wss}`;
    const ada = await openTab(browser, `${origin}/`);
    const bob = await openTab(browser, `${origin}/demo`);
    await joinRoom(ada, 'Ada', 'secure');
    await joinRoom(bob, 'Bob', 'secure');
    await say(bob, 'over TLS, both ways');
    await waitShown(ada, 'Bob', 'over TLS, both ways');
    await say(ada, 'and back');
    await waitShown(bob, 'Ada', 'and back');
    for (const tab of [ada, bob]) {
      assert.deepEqual(tab.sockets, [`wss://a.test:${server.ports.wss}/`]);
    }
    await screenshot(bob, 'demo-wss.png');
    assertNoProblems(ada, bob);
    await ada.context.close();
    await bob.context.close();
  });
});
