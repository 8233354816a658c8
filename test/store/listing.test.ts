// Keyset listing on every store: walking the pages of a phase visits every auction of that
// phase exactly once, in ascending id order, whatever the page size, with auctions in every
// phase (scheduled, open, ended but not yet closed, closed by the closer, cancelled), ids
// created out of order, and a scheduled auction that starts while the test runs.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { phaseAt, type AuctionState } from "../../src/auction/auction.ts";
import { Phase } from "../../src/protocol/constants.ts";
import type { Store } from "../../src/store/store.ts";
import { CONTRACT_STORE_KINDS, openTestStore, type StoreFixture } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
const PER_KIND = 40;
/** A scheduled auction that opens this long after it is created. */
const STARTS_SOON_MS = 400;
const PAGE_SIZES = [1, 3, 7, 50, 500];

async function walk(store: Store, phase: Phase | null, limit: number): Promise<number[]> {
  const ids: number[] = [];
  let after = 0;
  for (;;) {
    const page = await store.listAuctions(phase, after, limit);
    expect(page.length).toBeLessThanOrEqual(limit);
    ids.push(...page.map((a) => a.id));
    if (page.length < limit) return ids;
    after = page.at(-1)!.id;
  }
}

for (const kind of CONTRACT_STORE_KINDS) {
  describe(`${kind} store: keyset listing`, () => {
    let fixture: StoreFixture;
    let store: Store;
    const ids: number[] = [];
    beforeAll(async () => {
      fixture = await openTestStore(kind);
      store = fixture.store;
      const now = Date.now();
      // Explicit ids in a shuffled order, interleaving every phase.
      const order = Array.from({ length: PER_KIND * 5 }, (_, i) => 10 + i * 3).sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101));
      let k = 0;
      const create = async (fields: Partial<AuctionState>) => {
        const id = order[k++]!;
        ids.push(id);
        const spec = { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...fields };
        expect((await store.createAuction(spec)).created).toBe(true);
        return id;
      };
      for (let i = 0; i < PER_KIND; i++) {
        await create({ startsAt: now + HOUR, endsAt: now + 2 * HOUR }); // scheduled
        await create({}); // open
        await create({ endsAt: now + 200 }); // ends soon; half are closed by the closer below
        const cancelled = await create({});
        expect((await store.cancel(cancelled)).cancelled).toBe(true);
        await create({ startsAt: now + STARTS_SOON_MS, endsAt: now + HOUR }); // opens during the test
      }
      // Generated ids too.
      for (let i = 0; i < 5; i++) {
        const result = await store.createAuction({ id: 0, title: "g", startingPrice: 1, minIncrement: 1, reserve: 0, buyNowPrice: 0, startsAt: 0, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0 });
        if (!result.created) throw new Error("a generated id was refused");
        ids.push(result.auction.id);
      }
      await Bun.sleep(STARTS_SOON_MS + 100);
      // Some of the ended ones closed by the closing step, the rest ended by the clock only.
      await store.closeDue(PER_KIND / 2);
    });
    afterAll(async () => {
      await fixture.dispose();
    });

    test("every auction of each phase once per walk, ascending, at every page size", async () => {
      const now = store.now();
      const all = (await Promise.all(ids.map((id) => store.getAuction(id)))) as AuctionState[];
      const expected = (phase: Phase | null) =>
        all.filter((a) => phase === null || phaseAt(a, now) === phase).map((a) => a.id).sort((x, y) => x - y);
      expect(expected(Phase.SCHEDULED).length).toBe(PER_KIND);
      expect(expected(Phase.OPEN).length).toBe(2 * PER_KIND + 5);
      expect(expected(Phase.CLOSED).length).toBe(2 * PER_KIND);
      for (const phase of [Phase.SCHEDULED, Phase.OPEN, Phase.CLOSED, null]) {
        for (const limit of PAGE_SIZES) expect({ phase, limit, ids: await walk(store, phase, limit) }).toEqual({ phase, limit, ids: expected(phase) });
      }
    });

    test("a listed auction is the auction as read alone, whatever its title and increment table", async () => {
      const now = store.now();
      const titles = ['quotes " and \\ backslash / slash', "ünïcødé 競売 🔨", "control \u0001\t\n chars", ""];
      for (const [i, title] of titles.entries()) {
        const id = 100_000 + i * 7;
        const increments = i % 2 === 0 ? [{ from: 0, step: 10 }, { from: 1_000, step: 50 }] : undefined;
        const spec = { id, title, startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: now - 1000, endsAt: now + HOUR, antiSnipeMs: 0, maxEndsAt: 0, ...(increments ? { increments } : {}) };
        expect((await store.createAuction(spec)).created).toBe(true);
        const [listed] = await store.listAuctions(Phase.OPEN, id - 1, 1);
        expect(listed).toEqual((await store.getAuction(id))!);
        // And as created: the Redis store reads both through the same decoder.
        expect(listed).toMatchObject({ ...spec, seq: 0, amount: 0, leader: 0, top: 0, closed: false, winner: 0 });
      }
    });
  });
}
