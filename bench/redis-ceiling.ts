// The Redis ceiling Gavel is measured against: one EVALSHA of the project's own lua/bid.lua
// per bid, pipelined like redis-benchmark (C connections x P in flight, raw RESP, no client
// library in the way), with RISING amounts so every bid is a full accept (HSET, XADD, PUBLISH).
// redis-benchmark itself can only send random amounts, which are mostly OUTBID: a cheaper path.
//
//   bun run bench/redis-ceiling.ts --port 6379 [--connections 50] [--pipeline 16]
//       [--auctions 1000] [--seconds 5] [--shards 16]
// The Redis is FLUSHED first: point it at a throwaway server.

import { parseArgs } from "node:util";
import { join } from "node:path";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "6379" },
    connections: { type: "string", default: "50" },
    pipeline: { type: "string", default: "16" },
    auctions: { type: "string", default: "1000" },
    seconds: { type: "string", default: "5" },
    shards: { type: "string", default: "16" },
    json: { type: "boolean", default: false },
  },
});
const host = values.host!;
const port = Number(values.port);
const connections = Number(values.connections);
const pipeline = Number(values.pipeline);
const auctions = Number(values.auctions);
const seconds = Number(values.seconds);
const shards = Number(values.shards);

const encoder = new TextEncoder();
const command = (...args: (string | number)[]) =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("");

/** One raw RESP round trip on a short-lived connection (set-up only). */
async function call(...args: (string | number)[]): Promise<string> {
  let reply = "";
  const { promise, resolve } = Promise.withResolvers<string>();
  const socket = await Bun.connect({
    hostname: host,
    port,
    socket: {
      data(s, chunk) {
        reply += chunk.toString();
        if (reply.endsWith("\r\n")) {
          s.end();
          resolve(reply);
        }
      },
    },
  });
  socket.write(command(...args));
  return promise;
}

const key = (id: number) => `gavel:{g${id % shards}}:a:${id}`;

await call("FLUSHALL");
const sha = (await call("SCRIPT", "LOAD", await Bun.file(join(import.meta.dir, "../lua/bid.lua")).text())).split("\r\n")[1]!;
// Auctions are made by the project's own create.lua, so they hold exactly what bid.lua reads.
const create = await Bun.file(join(import.meta.dir, "../lua/create.lua")).text();
const FAR_FUTURE = 99_999_999_999_999;
/** Each group's epoch (src/store/redis-epoch.ts): the scripts refuse a call that names another. */
const EPOCH = "ceiling";
const group = (id: number) => `gavel:{g${id % shards}}`;
for (let g = 0; g < shards; g++) await call("SET", `gavel:{g${g}}:epoch`, EPOCH);
for (let id = 1; id <= auctions; id++) {
  const g = group(id);
  const created = await call("EVAL", create, 8, key(id), `${key(id)}:h`, `${g}:ends`, `${g}:epoch`, `${g}:live`, `${g}:closed`, `${g}:starts`, `${g}:scheduled`, EPOCH, id, "", 1, 1, 0, 0, 0, FAR_FUTURE, 0, 0);
  if (!created.startsWith(":1")) throw new Error(`create.lua refused auction ${id}: ${created}`);
}

let amount = 1;
let replies = 0;
let errors = 0;
let counting = false;
/** Each bid.lua reply is one bulk string of 29 bytes (RESULT_LAYOUT): "$29\r\n" + 29 bytes + "\r\n". */
const REPLY_SIZE = 5 + 29 + 2;
const BULK_MARK = 0x24; // '$'
const LINE_END = 0x0a; // '\n', ends an error line
const deadline = performance.now() + (seconds + 1) * 1000;

const sockets = await Promise.all(
  Array.from({ length: connections }, (_, c) =>
    Bun.connect({
      hostname: host,
      port,
      data: { skip: 0, inError: false },
      socket: {
        binaryType: "uint8array",
        data(socket, chunk: Uint8Array) {
          // Replies hold binary bytes, so they are walked by size rather than searched.
          const state = socket.data;
          let done = 0;
          let i = 0;
          while (i < chunk.length) {
            if (state.skip > 0) {
              const n = Math.min(state.skip, chunk.length - i);
              state.skip -= n;
              i += n;
              if (state.skip === 0) done++;
            } else if (state.inError) {
              if (chunk[i++] === LINE_END) {
                state.inError = false;
                errors++;
                done++;
              }
            } else if (chunk[i] === BULK_MARK) state.skip = REPLY_SIZE;
            else state.inError = true;
          }
          if (counting) replies += done;
          if (performance.now() < deadline) send(socket, c, done);
        },
      },
    }),
  ),
);

/**
 * bid.lua's packed bid (see its header): key index u32, user u32, amount u64, kind u8 (0: a
 * plain BID). Its KEYS are the
 * group's ends and epoch keys, then the auction's hash and history: the hash is KEYS[3].
 */
const AUCTION_KEY_INDEX = 3;
const PACKED_BID_SIZE = 17;
const packedBid = Buffer.alloc(PACKED_BID_SIZE);

/** One EVALSHA of one bid: the command's text around the 17 binary bytes of the bid. */
function evalsha(id: number, user: number, bidAmount: number): Buffer {
  packedBid.writeUInt32BE(AUCTION_KEY_INDEX, 0);
  packedBid.writeUInt32BE(user, 4);
  packedBid.writeBigUInt64BE(BigInt(bidAmount), 8);
  packedBid.writeUInt8(0, 16);
  const keys = [`${group(id)}:ends`, `${group(id)}:epoch`, key(id), `${key(id)}:h`];
  const bulk = (text: string) => `$${text.length}\r\n${text}\r\n`;
  const head = `*9\r\n${bulk("EVALSHA")}${bulk(sha)}${bulk(String(keys.length))}${keys.map(bulk).join("")}$${PACKED_BID_SIZE}\r\n`;
  return Buffer.concat([encoder.encode(head), packedBid, encoder.encode(`\r\n${bulk(EPOCH)}`)]);
}

function send(socket: (typeof sockets)[number], c: number, count: number): void {
  const commands: Buffer[] = [];
  for (let i = 0; i < count; i++) commands.push(evalsha(1 + ((amount + c) % auctions), 1 + (c % 97), amount++));
  socket.write(Buffer.concat(commands));
}

sockets.forEach((socket, c) => send(socket, c, pipeline));
await Bun.sleep(1000); // warm-up
counting = true;
const started = performance.now();
await Bun.sleep(seconds * 1000);
const rate = replies / ((performance.now() - started) / 1000);
counting = false;
await Bun.sleep(200);
for (const socket of sockets) socket.end();
// Every bid should have been a full accept: the auctions' seqs add up to the bids sent.
const keys = Array.from({ length: auctions }, (_, i) => key(i + 1));
const sumSeq = "local n = 0 for i = 1, #KEYS do n = n + tonumber(redis.call('HGET', KEYS[i], 'sq')) end return n";
const acceptedTotal = Number((await call("EVAL", sumSeq, auctions, ...keys)).slice(1));
const acceptedShare = acceptedTotal / (amount - 1);
const result = { rate: Math.round(rate), errors, connections, pipeline, auctions, acceptedShare: Number(acceptedShare.toFixed(3)) };
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(
    `one EVALSHA of lua/bid.lua per bid, rising amounts, C=${connections} P=${pipeline}, ${auctions} auctions: ` +
      `${result.rate.toLocaleString()} bids/s (${errors} errors, ${(acceptedShare * 100).toFixed(1)}% accepted)`,
  );
}
process.exit(0);
