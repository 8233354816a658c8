// Property: random interleavings of SUBSCRIBE, UNSUBSCRIBE and BID on one connection against a
// real server, sent pipelined in random pieces. Every request is answered exactly once; per
// auction the SUBSCRIBEs and UNSUBSCRIBEs are answered in request order (a STATE before the OK
// of an UNSUBSCRIBE sent after it); no UPDATE arrives while the connection does not follow the
// auction (after an UNSUBSCRIBE's OK); no UPDATE seq comes twice; and an auction still followed
// at the end has every seq after its last STATE.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FrameType, Status } from "../../src/protocol/constants.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { connectRaw } from "../support/raw-client.ts";
import { openAuction } from "../support/server.ts";
import {
  checkSubscriptionReplies,
  encodeRequests,
  numbered,
  replies,
  waitForReplies,
  type SubscriptionOp,
} from "../support/subscription-requests.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 3;
const MAX_OPS = 80;
const MAX_PIECES = 6;
const MAX_PAUSE_MS = 4;
const RUNS = 40;
const USER = 7;

/** Which op, on which of the run's auctions. */
const opArbitrary = fc.record({
  kind: fc.constantFrom("subscribe", "unsubscribe", "bid") as fc.Arbitrary<SubscriptionOp["kind"]>,
  auction: fc.integer({ min: 0, max: AUCTIONS - 1 }),
});

/** Where the stream is cut into writes (fractions), and the pause after each write. */
const piecesArbitrary = fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), pauseMs: fc.integer({ min: 0, max: MAX_PAUSE_MS }) }), {
  maxLength: MAX_PIECES,
});

for (const kind of ["memory", "redis"] as const) {
  describe(`random SUBSCRIBE / UNSUBSCRIBE / BID interleavings on ${kind}`, () => {
    let gavel: GavelFixture;
    beforeAll(async () => {
      gavel = await startGavel(kind);
    });
    afterAll(async () => {
      await gavel.dispose();
    });

    test("each answered once, in order per auction; no UPDATE after an UNSUBSCRIBE's OK; no seq twice", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: MAX_OPS }), piecesArbitrary, async (drawn, pieces) => {
          const ids: number[] = [];
          for (let i = 0; i < AUCTIONS; i++) ids.push((await gavel.createAuction(openAuction())).id);
          // Rising amounts: every bid is ACCEPTED, so each auction's seq counts its bids.
          let amount = 100;
          const ops: SubscriptionOp[] = drawn.map((d) =>
            d.kind === "bid" ? { kind: "bid", auction: ids[d.auction]!, user: USER, amount: amount++ } : { kind: d.kind, auction: ids[d.auction]! },
          );
          const requests = numbered(ops);
          const bytes = encodeRequests(requests);
          const client = await connectRaw(gavel.port);
          try {
            // Cut at frame boundaries or not: the server must not care.
            const cuts = pieces.map((p) => ({ at: Math.floor(p.at * bytes.length), pauseMs: p.pauseMs })).sort((a, b) => a.at - b.at);
            let from = 0;
            for (const cut of cuts) {
              if (cut.at > from) client.send(bytes.subarray(from, cut.at));
              from = Math.max(from, cut.at);
              await Bun.sleep(cut.pauseMs);
            }
            client.send(bytes.subarray(from));
            await waitForReplies(client, requests.length);

            const results = replies(client.frames).filter((f) => f.type === FrameType.RESULT) as { status: number; auction: number }[];
            expect(results.every((r) => r.status === Status.ACCEPTED)).toBe(true);
            const finalSeq = (auction: number) => results.filter((r) => r.auction === auction).length;
            // Wait for the UPDATEs still on their way to the auctions followed at the end.
            const deadline = Date.now() + 10_000;
            for (;;) {
              const outcomes = checkSubscriptionReplies(requests, client.frames);
              const behind = [...outcomes].filter(([auction, o]) => o.following && o.lastSeq < finalSeq(auction));
              if (behind.length === 0) break;
              if (Date.now() > deadline) throw new Error(`followed auctions missing UPDATEs: ${JSON.stringify(behind)}`);
              await Bun.sleep(10);
            }
            // And nothing more arrives.
            const settled = client.frames.length;
            await Bun.sleep(30);
            expect(client.frames.length).toBe(settled);
            for (const [auction, o] of checkSubscriptionReplies(requests, client.frames)) {
              if (o.following) expect(o.lastSeq).toBe(finalSeq(auction));
            }
          } finally {
            client.close();
          }
        }),
        { numRuns: RUNS },
      );
    });
  });
}
