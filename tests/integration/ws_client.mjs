// What the Node tests share on the client side: a Node `ws` WebSocket whose messages can be
// awaited one at a time, promise forms of send and close, every wait bounded by a deadline,
// and reading the gateway's /metrics.

import assert from 'node:assert/strict';

export const TIMEOUT_MS = 30000;

// `promise`, or a rejection naming `what` after TIMEOUT_MS.
export function withDeadline(promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms: ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// Gives a just-created `ws` ws.nextMessage() (resolves to { data, isBinary }, in arrival
// order) and ws.closed (resolves to { code, reason }); resolves to ws once it is open.
export function awaitable(ws) {
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const item = { data, isBinary };
    if (waiters.length) waiters.shift()(item); else queue.push(item);
  });
  ws.nextMessage = () => withDeadline(new Promise((resolve) => {
    if (queue.length) resolve(queue.shift()); else waiters.push(resolve);
  }), 'an echoed message');
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return withDeadline(new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  }), 'the opening handshake');
}

export function sendAsync(ws, data, options = {}) {
  return new Promise((resolve, reject) => ws.send(data, options, (err) => (err ? reject(err) : resolve())));
}

export async function closeAsync(ws, code = 1000, reason = '') {
  ws.close(code, reason);
  return withDeadline(ws.closed, 'the close handshake');
}

// The text of the gateway's /metrics (its admin listener).
export async function scrapeMetrics(server) {
  const res = await fetch(`http://127.0.0.1:${server.ports.admin}/metrics`);
  assert.equal(res.status, 200);
  return await res.text();
}

// The sum of every sample of `name` whose label set contains `labelFilter` in a scrape.
export function metricSum(text, name, labelFilter = '') {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/);
    if (m && m[1] === name && (m[2] || '').includes(labelFilter)) sum += Number(m[3]);
  }
  return sum;
}
