// Reference server for same-run comparisons: a plain Node `ws` server (npm), echoing every
// message, with permessage-deflate off (as tidegate). Prints "listening PORT" when ready.
//   node bench/ref/ws_echo_server.mjs PORT
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../tests/integration/package.json'));
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] ?? 8090);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, backlog: 4096 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => console.log(`listening ${wss.address().port}`));
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
