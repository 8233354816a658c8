// Proof that the bid path allocates nothing per frame in the steady state.
//
// A real Gavel server (memory store) and a real TCP client in this process: the client writes
// rounds of R pipelined BIDs (rising amounts, rewritten in place), the server decodes them into
// its ring, the drain applies them, RESULTs are encoded into the connection's reused buffer and
// written back; the client only counts reply bytes.
//
// The garbage collector is asked to run each time the young generation has taken a set number
// of bytes (8 MiB on a small heap, more as it grows), and with BUN_JSC_logGC=1 JSC says so,
// with the bytes allocated in the cycle. So the bench runs itself in a child process with that
// log on, marks where each run starts and ends, and counts the collections and the bytes
// requested in between. Per-round costs stay (Bun's one Uint8Array per socket read, a promise
// per round, spread over 4096 frames); a per-frame allocation adds collections in proportion to
// the frames. A control run whose client decodes every reply into an object (kept a while, so
// the compiler cannot skip it) shows what one object a frame looks like.
//
//   bun run bench:alloc [--frames 4000000] [--round 4096]

import { heapStats } from "bun:jsc";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { encodeBid, encodeMaxBid, decodeFrame } from "../src/protocol/codec.ts";
import { FrameAssembler } from "../src/protocol/assembler.ts";
import { BID_FRAME_SIZE, RESULT_FRAME_SIZE } from "../src/protocol/constants.ts";
import { startServer } from "../src/server.ts";
import { MemoryStore } from "../src/store/memory.ts";

const { values } = parseArgs({ options: { frames: { type: "string", default: "4000000" }, round: { type: "string", default: "4096" } } });
const ROUND = Number(values.round);
const RUN_START = "ALLOC-RUN-START";
const RUN_END = "ALLOC-RUN-END";
const CHILD_FLAG = "GAVEL_ALLOC_CHILD";

if (process.env[CHILD_FLAG] === undefined) {
  await reportFromChild();
  process.exit(0);
}

/** Runs this file again with JSC's GC log on and turns the log into a table. */
async function reportFromChild(): Promise<void> {
  const child = Bun.spawn([process.execPath, "run", import.meta.path, ...process.argv.slice(2)], {
    env: { ...process.env, [CHILD_FLAG]: "1", BUN_JSC_logGC: "1" },
    stdout: "inherit",
    stderr: "pipe",
  });
  const log = await new Response(child.stderr).text();
  if ((await child.exited) !== 0) throw new Error(`alloc child failed:\n${log.slice(-4000)}`);
  console.log(`bid path over loopback, memory store, rounds of ${ROUND} pipelined BIDs (Bun ${Bun.version})`);
  console.log("run                                    frames  collections  MB allocated  bytes/frame");
  let current: { name: string; frames: number; collections: number; bytes: number } | null = null;
  // Each collection logs the heap size when it starts and after it ends; what was allocated
  // between two collections is the next start minus the previous end, whatever triggered it.
  let afterLastKb = 0;
  for (const line of log.split("\n")) {
    if (line.startsWith(RUN_START)) {
      const [name, frames] = line.slice(RUN_START.length + 1).split("\t");
      current = { name: name!, frames: Number(frames), collections: 0, bytes: 0 };
    } else if (line.startsWith(RUN_END) && current !== null) {
      const c = current;
      console.log(
        `${c.name.padEnd(34)} ${c.frames.toLocaleString().padStart(10)} ${String(c.collections).padStart(12)} ${(c.bytes / 1e6).toFixed(1).padStart(13)} ${(c.bytes / c.frames).toFixed(2).padStart(12)}`,
      );
      current = null;
    } else {
      const start = /: START \S+ (\d+)kb/.exec(line);
      const end = /=> (\d+)kb, p=/.exec(line);
      if (start === null || end === null) continue;
      if (current !== null) {
        current.collections++;
        current.bytes += Math.max(0, Number(start[1]) - afterLastKb) * 1024;
      }
      afterLastKb = Number(end[1]);
    }
  }
  console.log("bytes/frame counts whole collection cycles only: under one cycle's worth a run shows 0.");
  console.log("(large buffers, e.g. history columns doubling, count too: they are kept data, not per-frame garbage)");
  console.log("ACCEPTED runs include the memory store's history columns (40 bytes a bid, doubling as they grow).");
}


const WARMUP_ROUNDS = 50;
const AUCTIONS = 100;

const store = new MemoryStore();
const server = await startServer(loadConfig({ GAVEL_STORE: "memory", GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0" }), store, () => {});
const now = Date.now();
for (let id = 1; id <= AUCTIONS; id++) {
  await store.createAuction({ id, title: "", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + 3_600_000, antiSnipeMs: 0, maxEndsAt: 0 });
}

const bids = new Uint8Array(ROUND * BID_FRAME_SIZE);
let amount = 1;
/** Rising amounts: every bid ACCEPTED. Otherwise every bid repeats the amount: OUTBID. */
let rising = true;
let replyBytes = 0;
let wanted = 0;
let wake: () => void = () => {};
/** MAX_BID instead of BID: the leader (user 7) raising their own maximum, a step-less ACCEPTED. */
let maxima = false;
/** In the control run the client also decodes every reply into an object: one allocation a frame. */
let control = false;
const recentlyDecoded: unknown[] = new Array(1024).fill(null);
let decodedCount = 0;
const controlAssembler = new FrameAssembler((type, bytes, payload, length) => {
  // Kept for a while, so the compiler cannot prove the object unused and skip allocating it.
  recentlyDecoded[decodedCount++ & 1023] = decodeFrame(type, bytes, payload, length);
  return true;
});

const client = await Bun.connect({
  hostname: "127.0.0.1",
  port: server.port,
  socket: {
    binaryType: "uint8array",
    data(_socket, chunk: Uint8Array) {
      if (control) controlAssembler.push(chunk);
      replyBytes += chunk.length;
      if (replyBytes >= wanted) wake();
    },
  },
});

async function round(): Promise<void> {
  let offset = 0;
  for (let i = 0; i < ROUND; i++) {
    const auction = 1 + (i % AUCTIONS);
    offset = maxima ? encodeMaxBid(bids, offset, i + 1, auction, 7, amount++) : encodeBid(bids, offset, i + 1, auction, 7, rising ? amount++ : 1);
  }
  wanted += ROUND * RESULT_FRAME_SIZE;
  const done = new Promise<void>((resolve) => (wake = resolve));
  let written = 0;
  while (written < bids.length) {
    const n = client.write(bids, written, bids.length - written);
    if (n > 0) written += n;
    else await Bun.sleep(0);
  }
  await done;
}

async function run(name: string, frames: number): Promise<void> {
  const rounds = Math.ceil(frames / ROUND);
  Bun.gc(true);
  console.error(`${RUN_START} ${name}\t${rounds * ROUND}`);
  for (let r = 0; r < rounds; r++) await round();
  console.error(`${RUN_END} heap=${heapStats().heapSize}`);
}

for (let r = 0; r < WARMUP_ROUNDS; r++) await round(); // JIT, buffers and history columns settle

const total = Number(values.frames);
// Runs that keep nothing first, while the heap (and so the collector's budget) is small.
rising = false;
await run("gavel, OUTBID, N/4 frames", total / 4);
await run("gavel, OUTBID, N frames", total);
control = true;
await run("control: + 1 object per reply, N", total);
control = false;
rising = true;
await run("gavel, ACCEPTED, N/4 frames", total / 4);
await run("gavel, ACCEPTED, N frames", total);
// Every auction is led by user 7 now: each MAX_BID raises the hidden maximum (no step, no history).
maxima = true;
await run("gavel, MAX_BID raising, N/4 frames", total / 4);
await run("gavel, MAX_BID raising, N frames", total);
maxima = false;
client.end();
await server.stop();
process.exit(0);
