// Property: random sequences of BIDs and MAX_BIDs from several users, in random batches, give
// the same results (status, amount, leader, seq, whether a visible step was made) on the memory,
// SQLite and Redis stores, and the same as a reference model written from the contract's text
// (test/support/proxy-model.ts). At the end of each run every store's history and hidden maximum
// agree with the model; the SQLite file, reopened, holds every auction's state and maximum.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuctionSpec } from "../../src/auction/auction.ts";
import { BidKind } from "../../src/auction/bid-rule.ts";
import type { Status } from "../../src/protocol/constants.ts";
import { statusName } from "../../src/protocol/names.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { emptyState, modelBid, type ModelAuction, type ModelBid, type ModelState } from "../support/proxy-model.ts";
import { openTestStore, type StoreFixture } from "../support/stores.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const HOUR = 3_600_000;
const USERS = 4;
const MAX_BIDS = 40;
const MAX_PRICE = 400;
const RUNS = 300;

/** Mostly on a coarse grid, so ties, maxima equal to the reserve and exact steps come up often. */
const GRID = 10;
const priceArbitrary = (max: number) =>
  fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: max / GRID }).map((k) => k * GRID) }, { weight: 1, arbitrary: fc.integer({ min: 1, max }) });

const tableArbitrary = fc
  .uniqueArray(priceArbitrary(200), { maxLength: 4 })
  .chain((froms) =>
    fc.array(fc.constantFrom(0, 5, 10), { minLength: froms.length + 1, maxLength: froms.length + 1 }).chain((raises) =>
      priceArbitrary(20).map((first) => {
        const sorted = [0, ...froms.sort((a, b) => a - b)];
        let step = first;
        return sorted.map((from, i) => {
          step += i === 0 ? 0 : raises[i]!;
          return { from, step };
        });
      }),
    ),
  );

const auctionArbitrary: fc.Arbitrary<ModelAuction> = fc
  .record({
    startingPrice: priceArbitrary(50),
    minIncrement: priceArbitrary(20),
    increments: fc.option(tableArbitrary, { nil: null }),
    reserve: fc.oneof(fc.constant(0), priceArbitrary(300)),
    buyNowAbove: fc.option(fc.oneof(fc.constant(0), priceArbitrary(300)), { nil: null, freq: 3 }),
  })
  .map(({ buyNowAbove, ...a }) => ({ ...a, buyNowPrice: buyNowAbove === null ? 0 : Math.max(a.startingPrice, a.reserve) + buyNowAbove }));

/** Bids on the auction: prices on the grid, and the auction's own edges (reserve, buy-now, table rows). */
function bidsArbitrary(a: ModelAuction): fc.Arbitrary<ModelBid[]> {
  const edges = [a.startingPrice, a.reserve, a.buyNowPrice, ...(a.increments ?? []).flatMap((row) => [row.from, row.from + 1])].filter((p) => p > 0);
  const amount = fc.oneof({ weight: 4, arbitrary: priceArbitrary(MAX_PRICE) }, { weight: 1, arbitrary: fc.constantFrom(...edges) });
  const bid: fc.Arbitrary<ModelBid> = fc.record({
    user: fc.integer({ min: 1, max: USERS }),
    kind: fc.constantFrom("bid", "max") as fc.Arbitrary<"bid" | "max">,
    amount,
  });
  return fc.array(bid, { minLength: 1, maxLength: MAX_BIDS });
}

/** Batch sizes the bids are cut into (the rest goes in batches of the last size). */
const cutsArbitrary = fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 });

interface Outcome {
  status: string;
  amount: number;
  leader: number;
  seq: number;
  stepped: boolean;
}

async function applyBatch(store: Store, id: number, bids: ModelBid[]): Promise<Outcome[]> {
  const batch = new BidBatch(bids.length);
  bids.forEach((bid, i) => {
    batch.auction[i] = id;
    batch.user[i] = bid.user;
    batch.amount[i] = bid.amount;
    batch.kind[i] = bid.kind === "max" ? BidKind.MAX : BidKind.BID;
  });
  batch.count = bids.length;
  await store.applyBids(batch);
  return bids.map((_, i) => ({
    status: statusName(batch.status[i] as Status) ?? "?",
    amount: batch.resultAmount[i]!,
    leader: batch.resultLeader[i]!,
    seq: batch.seq[i]!,
    stepped: batch.stepped[i] === 1,
  }));
}

function toSpec(id: number, a: ModelAuction): AuctionSpec {
  const now = Date.now();
  return {
    id,
    title: "lot",
    startingPrice: a.startingPrice,
    minIncrement: a.minIncrement,
    ...(a.increments === null ? {} : { increments: a.increments }),
    reserve: a.reserve,
    buyNowPrice: a.buyNowPrice,
    startsAt: now - 1000,
    endsAt: now + HOUR,
    antiSnipeMs: 0,
    maxEndsAt: 0,
  };
}

describe("proxy bidding, every store against the contract's model", () => {
  let memory: StoreFixture;
  let redis: StoreFixture;
  let sqliteDir: string;
  let sqlite: SqliteStore;
  /** Each run's auction and the model's final state, for the reopened SQLite file. */
  const finals = new Map<number, ModelState>();
  let nextId = 1;

  beforeAll(async () => {
    memory = await openTestStore("memory");
    redis = await openTestStore("redis");
    sqliteDir = mkdtempSync(join(tmpdir(), "gavel-proxy-"));
    sqlite = new SqliteStore({ path: join(sqliteDir, "gavel.db") });
  });
  afterAll(async () => {
    await memory.dispose();
    await redis.dispose();
    await sqlite.close();
    rmSync(sqliteDir, { recursive: true, force: true });
  });

  test("random BIDs and MAX_BIDs: memory, SQLite, Redis and the model agree bid by bid", async () => {
    await fc.assert(
      fc.asyncProperty(auctionArbitrary.chain((a) => fc.tuple(fc.constant(a), bidsArbitrary(a))), cutsArbitrary, async ([auction, bids], cuts) => {
        const id = nextId++;
        const stores: [string, Store][] = [
          ["memory", memory.store],
          ["sqlite", sqlite],
          ["redis", redis.store],
        ];
        for (const [, store] of stores) expect((await store.createAuction(toSpec(id, auction))).created).toBe(true);

        let state = emptyState();
        let at = 0;
        let cut = 0;
        while (at < bids.length) {
          const size = cuts[Math.min(cut++, cuts.length - 1)]!;
          const slice = bids.slice(at, at + size);
          at += slice.length;
          const expected: Outcome[] = [];
          for (const bid of slice) {
            const seqBefore = state.seq;
            const result = modelBid(auction, state, bid);
            state = result.state;
            expected.push({ status: result.status, amount: state.amount, leader: state.leader, seq: state.seq, stepped: state.seq !== seqBefore });
          }
          for (const [kind, store] of stores) expect({ kind, outcomes: await applyBatch(store, id, slice) }).toEqual({ kind, outcomes: expected });
        }

        const steps = state.steps.map(([amount, user, by], i) => ({ seq: i + 1, amount, user, by: by === "max" ? 1 : 0 }));
        for (const [kind, store] of stores) {
          const history = (await store.history(id, 0, MAX_BIDS + 1)).map(({ seq, amount, user, by }) => ({ seq, amount, user, by: by as number }));
          expect({ kind, history }).toEqual({ kind, history: steps });
          const stored = await store.getAuction(id);
          expect({ kind, amount: stored!.amount, leader: stored!.leader, seq: stored!.seq, top: stored!.top }).toEqual({
            kind,
            amount: state.amount,
            leader: state.leader,
            seq: state.seq,
            top: state.top,
          });
        }
        finals.set(id, state);
      }),
      { numRuns: RUNS },
    );
  });

  test("the SQLite file, reopened, holds each auction's visible state and hidden maximum", async () => {
    expect(finals.size).toBe(RUNS);
    await sqlite.close();
    sqlite = new SqliteStore({ path: join(sqliteDir, "gavel.db") });
    for (const [id, state] of finals) {
      const stored = await sqlite.getAuction(id);
      // Buy-now ended some: their rows are closed only once the closer runs, so all are held.
      expect({ id, amount: stored!.amount, leader: stored!.leader, seq: stored!.seq, top: stored!.top }).toEqual({
        id,
        amount: state.amount,
        leader: state.leader,
        seq: state.seq,
        top: state.top,
      });
    }
  });
});
