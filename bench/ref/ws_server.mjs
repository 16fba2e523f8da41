// Reference server for tidegate-bench comparisons (bench/compare): a plain Node `ws`
// server in one process, permessage-deflate off (as tidegate), written the way the `ws`
// documentation shows echo and broadcast servers.
//
//   node bench/ref/ws_server.mjs PORT echo        every message back to its sender
//   node bench/ref/ws_server.mjs PORT broadcast   every message to every other client that
//                                                 connected with the same URL path
//
// The path is the channel: tidegate-bench's raw adapter connects channel N to "/cN", so
// one server carries many channels. Messages are relayed as received (text stays text).
// Prints "listening PORT" when ready; exits cleanly on SIGTERM and SIGINT.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2] ?? 8090);
const mode = process.argv[3] ?? 'broadcast';
if (!Number.isInteger(port) || port < 0 || port > 65535 || !['echo', 'broadcast'].includes(mode)) {
  console.error('usage: node bench/ref/ws_server.mjs PORT echo|broadcast');
  process.exit(2);
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
const channels = new Map(); // path -> Set of sockets

wss.on('connection', (ws, req) => {
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  const path = req.url ?? '/';
  let members = channels.get(path);
  if (members === undefined) {
    members = new Set();
    channels.set(path, members);
  }
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const other of members) {
      if (other !== ws && other.readyState === WebSocket.OPEN) other.send(data, { binary: isBinary });
    }
  });
  ws.on('close', () => {
    members.delete(ws);
    if (members.size === 0) channels.delete(path);
  });
});
wss.on('listening', () => console.log(`listening ${wss.address().port}`));
const stop = () => wss.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
