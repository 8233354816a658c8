// The ceiling Gavel's own rate is compared with: a server that answers every BID with an
// ACCEPTED RESULT and does nothing else. It speaks Gavel's start-up line and accepts Gavel's
// "create auction" call, so the load generator drives it exactly like a real server
// (`bun run bench:load -- --spawn-server trivial`). Same codec, same assembler, one write per
// socket read, the same TCP settings: what remains between the two is Gavel's own work.

import { FrameAssembler } from "../src/protocol/assembler.ts";
import { decodeBid, encodeResult, type BidFields } from "../src/protocol/codec.ts";
import { FrameType, RESULT_FRAME_SIZE, Status } from "../src/protocol/constants.ts";

const host = process.env.GAVEL_HOST || "127.0.0.1";
/** Replies for one socket read; a read holds at most ~64 KiB of 22-byte BIDs. */
const MAX_REPLIES_PER_READ = 65_536;

interface Peer {
  assembler: FrameAssembler;
  out: Uint8Array;
  length: number;
}

const bid: BidFields = { req: 0, auction: 0, user: 0, amount: 0, amountValid: false };

const listener = Bun.listen<Peer>({
  hostname: host,
  port: Number(process.env.GAVEL_PORT ?? 0),
  socket: {
    binaryType: "uint8array",
    open(socket) {
      const peer: Peer = { assembler: null as unknown as FrameAssembler, out: new Uint8Array(MAX_REPLIES_PER_READ * RESULT_FRAME_SIZE), length: 0 };
      peer.assembler = new FrameAssembler((type, bytes, payload) => {
        if (type === FrameType.BID) {
          decodeBid(bytes, payload, bid);
          peer.length = encodeResult(peer.out, peer.length, bid.req, Status.ACCEPTED, bid.auction, bid.amount, bid.user);
        }
        return true;
      });
      socket.data = peer;
    },
    data(socket, chunk: Uint8Array) {
      const peer = socket.data;
      peer.assembler.push(chunk);
      // A load generator that reads its replies never leaves much behind; this is a ceiling
      // measurement, so unwritten bytes are simply dropped rather than queued.
      if (peer.length > 0) socket.write(peer.out, 0, peer.length);
      peer.length = 0;
    },
  },
});

const http = Bun.serve({
  hostname: host,
  port: Number(process.env.GAVEL_HTTP_PORT ?? 0),
  async fetch(request) {
    if (request.method === "POST") {
      const body = (await request.json()) as { id?: number };
      return Response.json({ id: body.id ?? 1 }, { status: 201 });
    }
    return Response.json({ ok: true });
  },
});

console.log(`gavel: listening on ${host}:${listener.port} (bids, TCP) and http://${host}:${http.port} (admin); store trivial-responder`);
process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
