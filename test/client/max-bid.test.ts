// The SDK's maxBid() against real servers (memory and Redis): a maximum leads at the starting
// price, answers a plain bid with an OUTBID step that subscribers see as an UPDATE, and a
// leader raising it changes nothing visible. Bad arguments are refused before anything is sent.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AuctionEvent, GavelClient, Status } from "../../src/client/index.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { openAuction } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

async function take(iterator: AsyncIterator<AuctionEvent>, count: number): Promise<AuctionEvent[]> {
  const events: AuctionEvent[] = [];
  const deadline = Date.now() + 10_000;
  while (events.length < count) {
    const next = await Promise.race([iterator.next(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (next === null || next.done) throw new Error(`got ${events.length} of ${count} events`);
    events.push(next.value);
  }
  return events;
}

for (const kind of ["memory", "redis"] as const) {
  describe(`client.maxBid() on ${kind}`, () => {
    let gavel: GavelFixture;
    beforeAll(async () => {
      gavel = await startGavel(kind);
    });
    afterAll(() => gavel.dispose());

    test("leads privately, answers a lower bid with a visible step, and a raise moves nothing", async () => {
      const { id } = await gavel.createAuction(openAuction({ starting_price: 100, min_increment: 10 }));
      const client = await GavelClient.connect({ port: gavel.port });
      const watcher = await GavelClient.connect({ port: gavel.port });
      try {
        const events = watcher.subscribe(id)[Symbol.asyncIterator]();
        expect((await take(events, 1))[0]!.type).toBe("state");

        const lead = await client.maxBid(id, 7, 5_007);
        expect(lead).toEqual({ status: Status.ACCEPTED, auction: id, amount: 100, leader: 7 });
        expect(lead.statusName).toBe("ACCEPTED");
        const answered = await client.bid(id, 8, 300);
        expect(answered).toEqual({ status: Status.OUTBID, auction: id, amount: 310, leader: 7 });
        const raised = await client.maxBid(id, 7, 9_007);
        expect(raised).toEqual({ status: Status.ACCEPTED, auction: id, amount: 310, leader: 7 });

        const updates = await take(events, 2);
        expect(updates.map((e) => (e.type === "update" ? [e.seq, e.amount, e.leader] : e.type))).toEqual([
          [1, 100, 7],
          [2, 310, 7],
        ]);
        expect((await client.query(id)).seq).toBe(2);
        await expect(client.maxBid(id, 7, 1.5)).rejects.toThrow(RangeError);
        await expect(client.maxBid(0x1_0000_0000, 7, 500)).rejects.toThrow(RangeError);
      } finally {
        await client.close();
        await watcher.close();
      }
    });
  });
}
