// Codec micro-benchmarks (mitata): the server's per-bid hot path, decode BID, encode RESULT,
// and the assembler over 64 KiB socket chunks. Run: bun run bench/codec.bench.ts

import { bench, do_not_optimize, group, run, summary } from "mitata";

import { FrameAssembler } from "../src/protocol/assembler.ts";
import { type BidFields, decodeBid, encodeBid, encodeResult } from "../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, HEADER_SIZE, RESULT_FRAME_SIZE, Status } from "../src/protocol/constants.ts";

/** A socket read as large as Bun hands out under load. */
const CHUNK_SIZE = 64 * 1024;
/** BID_FRAME_SIZE chunks of 64 KiB hold exactly CHUNK_SIZE frames, some split across chunks. */
const STREAM_CHUNKS = BID_FRAME_SIZE;
const STREAM_FRAMES = (CHUNK_SIZE * STREAM_CHUNKS) / BID_FRAME_SIZE;
/** Distinct frames the decode benchmark cycles through, so nothing is constant-folded. */
const DECODE_FRAMES = 1024;

function bidStream(frames: number): Uint8Array {
  const out = new Uint8Array(frames * BID_FRAME_SIZE);
  let offset = 0;
  for (let i = 0; i < frames; i++) offset = encodeBid(out, offset, i + 1, 1 + (i % 1000), 1 + (i % 5000), 1_000 + i);
  return out;
}

// ---- decode BID ------------------------------------------------------------------------------

const decodeInput = bidStream(DECODE_FRAMES);
const bid: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };
let decodeIndex = 0;

// ---- encode RESULT ---------------------------------------------------------------------------

const resultBuffer = new Uint8Array(RESULT_FRAME_SIZE * 256);
let resultOffset = 0;
let resultReq = 0;

// ---- assembler ---------------------------------------------------------------------------------

const stream = bidStream(STREAM_FRAMES);
const chunks = Array.from({ length: STREAM_CHUNKS }, (_, i) => stream.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
// Each assembler reads its own continuous stream: a chunk out of turn would misframe it.
let countingIndex = 0;
let decodingIndex = 0;

let framesSeen = 0;
let misframed = 0;
const counting = new FrameAssembler((type) => {
  if (type === FrameType.BID) framesSeen++;
  else misframed++;
  return true;
});
const decoding = new FrameAssembler((type, bytes, payload) => {
  if (type !== FrameType.BID) misframed++;
  decodeBid(bytes, payload, bid);
  return true;
});

summary(() => {
  group("per frame", () => {
    bench("decodeBid into a reused object", () => {
      decodeBid(decodeInput, decodeIndex * BID_FRAME_SIZE + HEADER_SIZE, bid);
      decodeIndex = (decodeIndex + 1) % DECODE_FRAMES;
      do_not_optimize(bid.amount);
    });

    bench("encodeResult into a reused buffer", () => {
      resultReq = (resultReq + 1) >>> 0;
      resultOffset = encodeResult(resultBuffer, resultOffset, resultReq, Status.ACCEPTED, 7, 15_050 + resultReq, 42);
      if (resultOffset === resultBuffer.length) resultOffset = 0;
      do_not_optimize(resultOffset);
    });
  });
});

group("assembler, one 64 KiB chunk per iteration (~2979 BID frames)", () => {
  bench("push, handler counts frames", () => {
    counting.push(chunks[countingIndex]!);
    countingIndex = (countingIndex + 1) % STREAM_CHUNKS;
  });

  bench("push, handler runs decodeBid", () => {
    decoding.push(chunks[decodingIndex]!);
    decodingIndex = (decodingIndex + 1) % STREAM_CHUNKS;
    do_not_optimize(bid.amount);
  });
});

const { benchmarks } = await run();

// Per-frame figures for the chunk benchmarks: a chunk holds CHUNK_SIZE / BID_FRAME_SIZE frames.
const framesPerChunk = CHUNK_SIZE / BID_FRAME_SIZE;
console.log("\nops/s and, for chunks, per frame:");
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (!stats) continue;
  const opsPerSecond = 1e9 / stats.avg;
  const line = `  ${trial.alias.padEnd(34)} ${format(opsPerSecond)} ops/s`;
  if (trial.alias.startsWith("push")) {
    const nsPerFrame = stats.avg / framesPerChunk;
    console.log(`${line}  = ${nsPerFrame.toFixed(2)} ns/frame, ${format(1e9 / nsPerFrame)} frames/s`);
  } else {
    console.log(line);
  }
}
if (framesSeen === 0 || misframed > 0) throw new Error(`assembler misread the stream: ${framesSeen} BIDs, ${misframed} others`);

function format(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0);
}
