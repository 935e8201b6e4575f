// TimescaleDB test lane: PGlite (PostgreSQL 17 in WebAssembly) with TimescaleDB 2.23,
// served over the Postgres wire protocol on 127.0.0.1 for psycopg (SPEC §9).
//
// Usage: node server.mjs --data-dir DIR --port PORT [--exit-with-stdin]
// Prints one line `hubsense-timescale-lane ready port=PORT` on stdout once it accepts
// connections; exits on SIGTERM/SIGINT after closing the database, and with
// --exit-with-stdin also when its stdin closes, so a test run that dies without
// cleaning up (SIGKILL) does not leave the server behind. For tests only:
// every connection shares one PostgreSQL session, and COPY wedges the server.

import { parseArgs } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import { timescaledb } from "@electric-sql/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    port: { type: "string" },
    "max-connections": { type: "string", default: "16" },
    "exit-with-stdin": { type: "boolean", default: false },
  },
});
if (!values["data-dir"] || !values.port) {
  console.error("usage: node server.mjs --data-dir DIR --port PORT");
  process.exit(2);
}
const port = Number.parseInt(values.port, 10);

const db = await PGlite.create({
  dataDir: values["data-dir"],
  extensions: { timescaledb },
});
// The timescaledb fork predates execProtocolRawStream, which pglite-socket 0.2.17 calls;
// the whole response arriving as one chunk is all the socket needs.
db.execProtocolRawStream ??= async (message, { onRawData }) =>
  onRawData(await db.execProtocolRaw(message));

const server = new PGLiteSocketServer({
  db,
  host: "127.0.0.1",
  port,
  maxConnections: Number.parseInt(values["max-connections"], 10),
});
await server.start();
console.log(`hubsense-timescale-lane ready port=${port}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await db.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
if (values["exit-with-stdin"]) {
  process.stdin.on("close", stop);
  process.stdin.resume();
}
