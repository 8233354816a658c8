// Growth: what a SQLite server costs when it has stored a lot. A fast loader writes the rows the
// real server writes (its own schema, created by opening the store; auctions as closing and the
// fold leave them; every bid in the folded `bids` table, as the fold leaves it once it caught up)
// straight into a file, then the benchmark starts `bun run src/main.ts` on it and measures:
// restart to ready, RSS after start, idle CPU, a mass close (auctions ending in one second:
// how late their CLOSED comes, and PING round trips meanwhile), and a page of 100 per phase.
//
//   bun run bench/growth.ts [--auctions 100000] [--closed 0.9] [--bids 1000000]
//       [--ending 5000] [--idle-seconds 10] [--db <path>] [--keep]
//
// The sizes of the question this answers: --auctions 1000000 --bids 20000000 --ending 50000
// (900,000 closed, 100,000 open, 20M bids). Run it alone: it needs the machine.
//
// The loader: one transaction per LOAD_CHUNK rows, synchronous=OFF while loading (a crash
// means loading again), auctions in id order, bids in (auction, seq) order so both B-trees
// only append. Open auction i (every (1/(1-closed))-th id) is like any other; 1% of the open
// ones are scheduled; `--ending` of the open ones are moved to end in one second, between the
// two starts (the server holds the file's lock while it runs).

import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Socket } from "bun";
import { FrameAssembler } from "../src/protocol/assembler.ts";
import { decodeFrame, encodePing, encodeSubscribe } from "../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, NO_REPLAY, PayloadLength } from "../src/protocol/constants.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { treeCpuSeconds } from "./load/cpu.ts";
import { spawnServer, type SpawnedServer } from "./load/spawn.ts";

const { values } = parseArgs({
  options: {
    auctions: { type: "string", default: "100000" },
    closed: { type: "string", default: "0.9" },
    bids: { type: "string", default: "1000000" },
    ending: { type: "string", default: "5000" },
    "idle-seconds": { type: "string", default: "10" },
    db: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const AUCTIONS = Number(values.auctions);
const CLOSED_FRACTION = Number(values.closed);
const BIDS = Number(values.bids);
const ENDING = Number(values.ending);
const IDLE_SECONDS = Number(values["idle-seconds"]);

/** The targets this benchmark checks against (docs/performance.md, "Growth"). */
const Target = { RESTART_MS: 2_000, RSS_MB: 300, IDLE_CPU_PERCENT: 1, CLOSED_LATE_MS: 1_000, PING_MS: 50, PAGE_P99_MS: 5 } as const;
const LOAD_CHUNK = 100_000;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const SCHEDULED_EVERY = 100;
const USERS = 50;
const STARTING_PRICE = 100;
const INCREMENT = 10;
/** The ending auctions end this long after the second start is ready, spread over one second. */
const CLOSE_AFTER_READY_MS = 5_000;
const SPREAD_MS = 1_000;
const PING_EVERY_MS = 10;
const PAGE = 100;
const PAGE_SAMPLES = 200;
const MB = 1024 * 1024;

const dir = values.db === undefined ? mkdtempSync(join(tmpdir(), "gavel-growth-")) : null;
const path = values.db ?? join(dir!, "gavel.db");

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** Writes the rows; returns the ids of the open (not scheduled) auctions. */
async function load(): Promise<number[]> {
  // The server's own schema.
  await new SqliteStore({ path }).close();
  const db = new Database(path, { strict: true });
  db.exec("PRAGMA synchronous = OFF");
  // Columns named: the schema grows (a later column keeps its default here).
  const insertAuction = db.prepare(
    "INSERT INTO auctions (id, title, starting_price, min_increment, reserve, buy_now_price, starts_at, ends_at, anti_snipe_ms, max_ends_at, seq, amount, leader, closed, winner, top) " +
      "VALUES (?, ?, ?, ?, 0, 0, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?)",
  );
  const insertBid = db.prepare("INSERT INTO bids (auction, seq, amount, user, at, ends_at) VALUES (?, ?, ?, ?, ?, ?)");
  const openEvery = Math.max(1, Math.round(1 / (1 - CLOSED_FRACTION)));
  const bidsPer = Math.max(0, Math.floor(BIDS / AUCTIONS));
  const now = Date.now();
  const open: number[] = [];
  let rows = 0;
  db.exec("BEGIN");
  for (let id = 1; id <= AUCTIONS; id++) {
    const isOpen = id % openEvery === 0;
    const scheduled = isOpen && (id / openEvery) % SCHEDULED_EVERY === 0;
    const startsAt = scheduled ? now + DAY_MS : now - 2 * DAY_MS;
    const endsAt = isOpen ? now + (scheduled ? 2 : 1) * DAY_MS : now - DAY_MS + (id % HOUR_MS);
    const seq = scheduled ? 0 : bidsPer;
    for (let s = 1; s <= seq; s++) {
      insertBid.run(id, s, STARTING_PRICE + s * INCREMENT, 1 + (s % USERS), startsAt + s * 1000, endsAt);
      if (++rows % LOAD_CHUNK === 0) db.exec("COMMIT; BEGIN");
    }
    const amount = seq === 0 ? 0 : STARTING_PRICE + seq * INCREMENT;
    const leader = seq === 0 ? 0 : 1 + (seq % USERS);
    // The leader's maximum is the amount: every bid here is a plain BID.
    insertAuction.run(id, `lot ${id}`, STARTING_PRICE, INCREMENT, startsAt, endsAt, seq, amount, leader, isOpen ? 0 : 1, isOpen ? 0 : leader, amount);
    if (++rows % LOAD_CHUNK === 0) db.exec("COMMIT; BEGIN");
    if (isOpen && !scheduled) open.push(id);
  }
  db.exec("COMMIT");
  insertAuction.finalize();
  insertBid.finalize();
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  return open;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

async function start(): Promise<{ server: SpawnedServer; readyMs: number }> {
  const t0 = performance.now();
  const server = await spawnServer("sqlite", undefined, { GAVEL_DB: path, GAVEL_MAX_SUBSCRIPTIONS: String(Math.max(ENDING, 1)) });
  return { server, readyMs: performance.now() - t0 };
}

async function connect(port: number, onFrame: (frame: NonNullable<ReturnType<typeof decodeFrame>>) => void): Promise<Socket> {
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    const frame = decodeFrame(type, bytes, payload, length);
    if (frame !== null) onFrame(frame);
    return true;
  });
  return Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk: Uint8Array) {
        assembler.push(chunk);
      },
    },
  });
}

async function massClose(server: SpawnedServer, ending: number[], endsAt: number) {
  const closedAt = new Map<number, number>();
  let states = 0;
  const subscriber = await connect(server.port, (frame) => {
    if (frame.type === FrameType.STATE) states++;
    if (frame.type === FrameType.CLOSED) closedAt.set(frame.auction, Date.now());
  });
  const frameSize = HEADER_SIZE + PayloadLength.SUBSCRIBE;
  const bytes = new Uint8Array(ending.length * frameSize);
  ending.forEach((id, i) => encodeSubscribe(bytes, i * frameSize, i + 1, id, NO_REPLAY));
  subscriber.write(bytes);
  while (states < ending.length) await Bun.sleep(20);

  const sentAt = new Map<number, number>();
  const roundTrips: number[] = [];
  const pinger = await connect(server.port, (frame) => {
    if (frame.type !== FrameType.PONG) return;
    roundTrips.push(performance.now() - sentAt.get(frame.req)!);
  });
  const ping = new Uint8Array(HEADER_SIZE + PayloadLength.PING);
  let req = 0;
  const timer = setInterval(() => {
    sentAt.set(++req, performance.now());
    encodePing(ping, 0, req);
    pinger.write(ping);
  }, PING_EVERY_MS);
  const deadline = endsAt + SPREAD_MS + 30_000;
  while (closedAt.size < ending.length && Date.now() < deadline) await Bun.sleep(50);
  await Bun.sleep(200);
  clearInterval(timer);
  subscriber.end();
  pinger.end();
  const lateness = ending.map((id, i) => (closedAt.get(id) ?? Infinity) - (endsAt + (i % SPREAD_MS)));
  return { received: closedAt.size, maxLateMs: Math.max(...lateness), maxPingMs: Math.max(...roundTrips), p99PingMs: percentile(roundTrips, 0.99) };
}

async function pageP99(server: SpawnedServer, phase: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < PAGE_SAMPLES; i++) {
    const after = Math.floor(Math.random() * AUCTIONS);
    const t0 = performance.now();
    const response = await fetch(`http://127.0.0.1:${server.httpPort}/v1/auctions?phase=${phase}&after=${after}&limit=${PAGE}`);
    await response.arrayBuffer();
    samples.push(performance.now() - t0);
  }
  return percentile(samples, 0.99);
}

function row(name: string, measured: string, target: string, ok: boolean) {
  console.log(`${name.padEnd(34)} ${measured.padStart(14)}   target ${target.padEnd(10)} ${ok ? "ok" : "MISSED"}`);
}

try {
  const loadStart = performance.now();
  const open = await load();
  const openEvery = Math.round(1 / (1 - CLOSED_FRACTION));
  console.log(
    `loaded ${AUCTIONS} auctions (${AUCTIONS - Math.floor(AUCTIONS / openEvery)} closed, ${open.length} open, ` +
      `${Math.floor(AUCTIONS / openEvery) - open.length} scheduled) and ${Math.floor(BIDS / AUCTIONS) * (AUCTIONS - (Math.floor(AUCTIONS / openEvery) - open.length))} bids ` +
      `into ${path} in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`,
  );

  // First start: restart time, memory, idle CPU.
  const first = await start();
  const rss = rssMb(first.server.pid);
  const cpuBefore = treeCpuSeconds(first.server.pid)!;
  await Bun.sleep(IDLE_SECONDS * 1000);
  const idleCpu = ((treeCpuSeconds(first.server.pid)! - cpuBefore) / IDLE_SECONDS) * 100;
  await first.server.stop();

  // The ending auctions get their end, then the second start closes them all in one second.
  const ending = open.slice(0, ENDING);
  if (ending.length < ENDING) console.log(`(only ${ending.length} open auctions to end: --ending ${ENDING} needs more --auctions)`);
  const db = new Database(path, { strict: true });
  const planned = Date.now() + first.readyMs * 2 + CLOSE_AFTER_READY_MS;
  const setEnd = db.prepare("UPDATE auctions SET ends_at = ? WHERE id = ?");
  db.transaction(() => ending.forEach((id, i) => setEnd.run(planned + (i % SPREAD_MS), id)))();
  setEnd.finalize();
  db.close();
  const second = await start();
  const close = await massClose(second.server, ending, planned);
  const pages = { open: await pageP99(second.server, "open"), scheduled: await pageP99(second.server, "scheduled"), closed: await pageP99(second.server, "closed") };
  await second.server.stop();

  console.log("");
  row("restart to ready", `${first.readyMs.toFixed(0)} ms`, `<= ${Target.RESTART_MS} ms`, first.readyMs <= Target.RESTART_MS);
  row("RSS after start", `${rss.toFixed(0)} MB`, `<= ${Target.RSS_MB} MB`, rss <= Target.RSS_MB);
  row(`idle CPU over ${IDLE_SECONDS} s`, `${idleCpu.toFixed(2)} %`, `<= ${Target.IDLE_CPU_PERCENT} %`, idleCpu <= Target.IDLE_CPU_PERCENT);
  row(`CLOSED received (${ending.length} ending)`, `${close.received}`, `all`, close.received === ending.length);
  row("latest CLOSED after its ends_at", `${close.maxLateMs.toFixed(0)} ms`, `<= ${Target.CLOSED_LATE_MS} ms`, close.maxLateMs <= Target.CLOSED_LATE_MS);
  row("PING round trip during the close", `max ${close.maxPingMs.toFixed(1)} ms`, `<= ${Target.PING_MS} ms`, close.maxPingMs <= Target.PING_MS);
  for (const [phase, ms] of Object.entries(pages)) row(`page of ${PAGE}, phase=${phase}, p99`, `${ms.toFixed(2)} ms`, `<= ${Target.PAGE_P99_MS} ms`, ms <= Target.PAGE_P99_MS);
  console.log(`(second start: ${second.readyMs.toFixed(0)} ms; PING p99 during the close ${close.p99PingMs.toFixed(1)} ms; RSS in MB of ${MB} bytes)`);
} finally {
  if (dir !== null && !values.keep) rmSync(dir, { recursive: true, force: true });
}
