// PINGs a server every PING_EVERY_MS from a process of its own until told to stop (a line on
// stdin, or stdin closing), then prints every round trip (ms) as one JSON array. Its own
// process: the benchmark that spawns it is busy reading tens of thousands of CLOSED frames
// meanwhile, which would delay reading the PONGs and count the benchmark's stall as the
// server's.
//
//   bun run bench/growth/pinger.ts <port>

import { encodePing } from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, PayloadLength } from "../../src/protocol/constants.ts";
import { connectFrames } from "./frame-socket.ts";

const PING_EVERY_MS = 10;
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) throw new Error(`usage: bun run bench/growth/pinger.ts <port>, got ${process.argv[2]}`);

const sentAt = new Map<number, number>();
const roundTrips: number[] = [];
const socket = await connectFrames(port, (frame) => {
  if (frame.type !== FrameType.PONG) return;
  const sent = sentAt.get(frame.req);
  if (sent !== undefined) roundTrips.push(performance.now() - sent);
  sentAt.delete(frame.req);
});
const ping = new Uint8Array(HEADER_SIZE + PayloadLength.PING);
let req = 0;
const timer = setInterval(() => {
  sentAt.set(++req, performance.now());
  encodePing(ping, 0, req);
  socket.write(ping);
}, PING_EVERY_MS);
console.error("pinging");

for await (const _line of console) break;
clearInterval(timer);
socket.end();
console.log(JSON.stringify(roundTrips));
process.exit(0);
