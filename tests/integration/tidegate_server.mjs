// The tidegate process for the Node tests: started with the arguments a test gives, its
// stderr kept, the port of every listener read from its `listening` lines; stopped with
// SIGTERM and checked for a clean exit and no sanitizer report. Same contract as
// tests/pylib/tidegate_harness.py. TIDEGATE_BIN names the binary (default build/tidegate).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.TIDEGATE_SOURCE_DIR || join(here, '..', '..');
export const BINARY = process.env.TIDEGATE_BIN || join(SOURCE_DIR, 'build', 'tidegate');

const READY_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 20000;
const TAIL_LINES = 40;
const SANITIZER_MARKERS = ['ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer'];

// The value of `key` in one logfmt line (quotes removed), or undefined.
export function logField(line, key) {
  const m = line.match(new RegExp(`(?:^| )${key}=("(?:[^"\\\\]|\\\\.)*"|\\S*)`));
  if (!m) return undefined;
  return m[1].startsWith('"') ? m[1].slice(1, -1) : m[1];
}

// Starts tidegate with `args` (listeners included, port 0 lets the kernel choose) and
// resolves, once it logged "ready", to { proc, lines, ports, exit } where ports maps each
// listener kind (ws, wss, admin, api) to the first port it logged. Rejects when it exits
// before "ready", does not get there within 10 s, or logged no listener of a kind in
// `requiredKinds`.
export function startServer(args, requiredKinds = []) {
  assert.ok(existsSync(BINARY), `no tidegate binary at ${BINARY} (build it or set TIDEGATE_BIN)`);
  const proc = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const server = { proc, lines: [], ports: {}, exit: null };
  const tail = () => server.lines.slice(-TAIL_LINES).join('\n');
  return new Promise((resolve, reject) => {
    let pending = '';
    let ready = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`tidegate did not log "ready" within 10 s\n${tail()}`));
    }, READY_TIMEOUT_MS);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        server.lines.push(line);
        const msg = logField(line, 'msg');
        if (msg === 'listening') {
          server.ports[logField(line, 'kind')] ??= Number(logField(line, 'addr').split(':').pop());
        } else if (msg === 'ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          const missing = requiredKinds.filter((kind) => !server.ports[kind]);
          if (missing.length > 0) {
            reject(new Error(`"ready" without a "listening" line for ${missing.join(', ')}\n${tail()}`));
          } else {
            resolve(server);
          }
        }
      }
    });
    proc.on('exit', (code, signal) => {
      server.exit = { code, signal };
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`tidegate exited (${code ?? signal}) before "ready"\n${tail()}`));
      }
    });
  });
}

// Sends SIGTERM and asserts tidegate exits with 0 within 20 s (else SIGKILL and fail) and
// wrote no sanitizer report.
export async function stopServer(server) {
  const exited = server.exit ? Promise.resolve(server.exit)
    : new Promise((resolve) => server.proc.on('exit', (code, signal) => resolve({ code, signal })));
  server.proc.kill('SIGTERM');
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS); });
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  const tail = server.lines.slice(-TAIL_LINES).join('\n');
  if (result === null) {
    server.proc.kill('SIGKILL');
    assert.fail(`tidegate did not exit within 20 s of SIGTERM\n${tail}`);
  }
  for (const line of server.lines) {
    for (const marker of SANITIZER_MARKERS) {
      assert.ok(!line.includes(marker), `sanitizer report in tidegate stderr: ${line}`);
    }
  }
  assert.deepEqual(result, { code: 0, signal: null }, `tidegate did not exit cleanly\n${tail}`);
}
