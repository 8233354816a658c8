// Fan-out: UPDATEs delivered per second to S subscribers while bidders keep A auctions moving,
// on one node or on several nodes sharing one Redis (bids on node 0, subscribers spread over
// all nodes, so on two nodes half of them hear of each bid through Redis Pub/Sub).
//
//   bun run bench/fanout.ts [--store memory|sqlite|redis] [--nodes 1] [--subscribers 100]
//       [--auctions 10] [--bidders 10] [--window 16] [--seconds 5]

import { parseArgs } from "node:util";
import type { Socket } from "bun";
import { encodeBid, encodeSubscribe } from "../src/protocol/codec.ts";
import { BID_FRAME_SIZE, HEADER_SIZE, NO_REPLAY, PayloadLength, RESULT_FRAME_SIZE, UPDATE_FRAME_SIZE } from "../src/protocol/constants.ts";
import { spawnRedis, spawnServer, type SpawnedServer, type SpawnStore } from "./load/spawn.ts";

const { values } = parseArgs({
  options: {
    store: { type: "string", default: "memory" },
    nodes: { type: "string", default: "1" },
    subscribers: { type: "string", default: "100" },
    auctions: { type: "string", default: "10" },
    bidders: { type: "string", default: "10" },
    window: { type: "string", default: "16" },
    seconds: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const store = values.store as SpawnStore;
const nodeCount = Number(values.nodes);
const subscriberCount = Number(values.subscribers);
const auctionCount = Number(values.auctions);
const bidderCount = Number(values.bidders);
const window = Number(values.window);
const seconds = Number(values.seconds);
if (nodeCount > 1 && store !== "redis") throw new Error("--nodes > 1 needs --store redis");

const redis = store === "redis" ? await spawnRedis() : null;
const nodes: SpawnedServer[] = [];
for (let i = 0; i < nodeCount; i++) nodes.push(await spawnServer(store, redis?.url));

try {
  const ids: number[] = [];
  for (let i = 0; i < auctionCount; i++) {
    const response = await fetch(`http://${nodes[0]!.host}:${nodes[0]!.httpPort}/v1/auctions`, {
      method: "POST",
      body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }),
    });
    ids.push(((await response.json()) as { id: number }).id);
  }

  // Subscribers: every one follows every auction; they only count bytes.
  let updateBytes = 0;
  let counting = false;
  const subscribers: Socket[] = [];
  for (let s = 0; s < subscriberCount; s++) {
    const node = nodes[s % nodeCount]!;
    const socket = await Bun.connect({
      hostname: node.host,
      port: node.port,
      socket: {
        binaryType: "uint8array",
        data(_socket, chunk: Uint8Array) {
          if (counting) updateBytes += chunk.length;
        },
      },
    });
    const frames = new Uint8Array(ids.length * (HEADER_SIZE + PayloadLength.SUBSCRIBE));
    let offset = 0;
    ids.forEach((id, i) => (offset = encodeSubscribe(frames, offset, i + 1, id, NO_REPLAY)));
    socket.write(frames);
    subscribers.push(socket);
  }
  await Bun.sleep(500); // STATE snapshots arrive before counting starts

  // Bidders on node 0: closed loop, W in flight each, rising amounts.
  let amount = 1;
  let bids = 0;
  let running = true;
  const bidders: Socket<{ buffer: Uint8Array; received: number }>[] = [];
  for (let b = 0; b < bidderCount; b++) {
    const socket = await Bun.connect({
      hostname: nodes[0]!.host,
      port: nodes[0]!.port,
      data: { buffer: new Uint8Array(window * BID_FRAME_SIZE), received: 0 },
      socket: {
        binaryType: "uint8array",
        data(socket, chunk: Uint8Array) {
          socket.data.received += chunk.length;
          const answered = Math.floor(socket.data.received / RESULT_FRAME_SIZE);
          socket.data.received -= answered * RESULT_FRAME_SIZE;
          if (counting) bids += answered;
          if (running) send(socket, answered);
        },
      },
    });
    bidders.push(socket);
  }
  function send(socket: (typeof bidders)[number], count: number): void {
    let offset = 0;
    for (let i = 0; i < count; i++) offset = encodeBid(socket.data.buffer, offset, 1, ids[amount % ids.length]!, 1 + (amount % 50), amount++);
    socket.write(socket.data.buffer, 0, offset);
  }
  for (const socket of bidders) send(socket, window);

  await Bun.sleep(1000);
  counting = true;
  const started = performance.now();
  await Bun.sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  running = false;

  const delivered = Math.round(updateBytes / UPDATE_FRAME_SIZE / elapsed);
  const result = { store, nodes: nodeCount, subscribers: subscriberCount, auctions: auctionCount, bidsPerS: Math.round(bids / elapsed), updatesDeliveredPerS: delivered };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `${store}, ${nodeCount} node(s), ${subscriberCount} subscribers x ${auctionCount} auctions, ${bidderCount}x${window} bidders on node 0: ` +
        `${result.bidsPerS.toLocaleString()} bids/s answered, ${delivered.toLocaleString()} UPDATEs delivered/s`,
    );
  }
  for (const socket of [...subscribers, ...bidders]) socket.terminate();
} finally {
  for (const node of nodes) await node.stop();
  await redis?.stop();
}
process.exit(0);
