// The linearizability checker's self-test: it fails on planted faults (a lost acknowledged bid,
// a real-time inversion, a stale QUERY, a stored bid answered UNAVAILABLE, and a real memory
// store killed with SIGKILL under load and restarted), and passes on correct histories: small
// ones with indeterminate bids, and random ones from a simulated atomic server with random
// concurrency. A large history checks in seconds, and a search past its bound says so.

import { afterEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Phase, Status } from "../../src/protocol/constants.ts";
import { check, ClientLog, fetchFinalState, ViolationKind, type FinalAuction } from "./consistency.ts";
import { checkLinearizability, formatVerdict, Outcome, type AuctionVerdict } from "./linearizability.ts";
import { simulateAuctions } from "./linearizability-simulation.ts";
import { spawnGavel, type GavelProcess } from "./process.ts";
import { SteadyLoad } from "./steady-load.ts";
import { allowSlowTests } from "./timeouts.ts";

allowSlowTests();

const AUCTION = 3;
const ALICE = 11;
const BOB = 12;
const CAROL = 13;

/** An open auction with the default rules (starting price 1, increment 1, no reserve, no buy-now). */
function finalOf(history: [amount: number, user: number][], closed = false): FinalAuction {
  const last = history.at(-1);
  return {
    id: AUCTION,
    seq: history.length,
    amount: last?.[0] ?? 0,
    leader: last?.[1] ?? 0,
    closed,
    winner: null,
    reserve: 0,
    buyNowPrice: 0,
    startingPrice: 1,
    minIncrement: 1,
    history: history.map(([amount, user], i) => ({ seq: i + 1, amount, user })),
  };
}

/** Records a BID sent at `sent` and answered at `answered` (null: never answered). */
function bid(log: ClientLog, user: number, amount: number, sent: number, answered: number | null, status: number = Status.ACCEPTED, reply: [number, number] = [amount, user]): void {
  const bidder = log.bidder(`bidder ${log.bidders.length + 1}`);
  bidder.sent(1, AUCTION, user, amount, sent);
  if (answered !== null) bidder.result(1, status, AUCTION, reply[0], reply[1], answered);
}

/** Records a QUERY sent at `sent`, answered at `answered` by a STATE at seq with amount by leader. */
function query(log: ClientLog, sent: number, answered: number, seq: number, amount: number, leader: number): void {
  const reader = log.reader();
  reader.sent(1, AUCTION, sent);
  reader.state(1, Phase.OPEN, seq, amount, leader, answered);
}

function verdictOf(log: ClientLog, final: FinalAuction, options = {}): AuctionVerdict {
  const [verdict] = checkLinearizability(log, [final], options);
  return verdict!;
}

describe("linearizability: planted faults are caught", () => {
  test("(a) a lost acknowledged bid: ACCEPTED, then neither a later QUERY nor the store holds it", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1);
    bid(log, BOB, 90, 2, 3, Status.OUTBID, [100, ALICE]); // saw it
    query(log, 4, 5, 0, 0, 0);
    const verdict = verdictOf(log, finalOf([]));
    expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
    expect(formatVerdict(verdict)).toContain("the final history holds no step 100 by user 11: an acknowledged bid was lost");

    // Through the consistency checker's verdict, beside its own LOST_BID.
    const kinds = new Set(check(log, [finalOf([])]).map((v) => v.kind));
    expect(kinds.has(ViolationKind.NOT_LINEARIZABLE)).toBe(true);
    expect(kinds.has(ViolationKind.LOST_BID)).toBe(true);
  });

  test("(a') lost between two reads: the store holds it, but a QUERY after its ACCEPTED did not see it", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1);
    query(log, 2, 3, 0, 0, 0);
    const verdict = verdictOf(log, finalOf([[100, ALICE]]));
    expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
    expect(formatVerdict(verdict)).toContain("reader 1 QUERY 1: STATE seq 0");
  });

  test("(b) an inversion: two ACCEPTED bids stored in the order real time contradicts", () => {
    // Alice's 300 was ACCEPTED before Bob's 200 was even sent, yet the store has 200 first. The
    // amounts rise with seq and each RESULT matches its step: only real time shows it.
    const log = new ClientLog();
    bid(log, ALICE, 300, 0, 1, Status.ACCEPTED, [300, ALICE]);
    bid(log, BOB, 200, 2, 3, Status.ACCEPTED, [200, BOB]);
    const final = finalOf([
      [200, BOB],
      [300, ALICE],
    ]);
    expect(check(log, [final], { linearizability: false })).toEqual([]); // the invariants alone miss it
    const verdict = verdictOf(log, final);
    expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
    const report = formatVerdict(verdict);
    expect(report).toContain("no order consistent with real time explains every reply");
    expect(report).toMatch(/made seq 1, but was sent only after it was answered|was answered before it was sent/);
    expect(check(log, [final]).map((v) => v.kind)).toEqual([ViolationKind.NOT_LINEARIZABLE]);

    // The same two bids overlapping in time: either order is possible, so it is linearizable.
    const overlapping = new ClientLog();
    bid(overlapping, ALICE, 300, 0, 3, Status.ACCEPTED, [300, ALICE]);
    bid(overlapping, BOB, 200, 1, 2, Status.ACCEPTED, [200, BOB]);
    expect(verdictOf(overlapping, final).outcome).toBe(Outcome.LINEARIZABLE);
  });

  test("(c) a stale QUERY: it returned an old state after a newer ACCEPTED had completed", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1);
    bid(log, BOB, 200, 2, 3);
    query(log, 4, 5, 1, 100, ALICE);
    const final = finalOf([
      [100, ALICE],
      [200, BOB],
    ]);
    expect(check(log, [final], { linearizability: false })).toEqual([]);
    const verdict = verdictOf(log, final);
    expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
    const report = formatVerdict(verdict);
    expect(report).toContain("the auction at seq 2 (200 by user 12)");
    expect(report).toContain("reader 1 QUERY 1: STATE seq 1, 100 by user 11");
    expect(report).toContain("bidder 2 req 1: BID 200 by user 12, ACCEPTED (200 by user 12) [sent 2.0 ms, answered 3.0 ms] was answered before it was sent");

    // The same read overlapping Bob's bid is fine: it may have come first.
    const overlapping = new ClientLog();
    bid(overlapping, ALICE, 100, 0, 1);
    bid(overlapping, BOB, 200, 2, 3);
    query(overlapping, 2.5, 5, 1, 100, ALICE);
    expect(verdictOf(overlapping, final).outcome).toBe(Outcome.LINEARIZABLE);
  });

  test("a stored bid answered UNAVAILABLE (nothing stored) fails, unless the run allows a timed-out call to have applied", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1);
    bid(log, BOB, 150, 2, 3, Status.UNAVAILABLE, [0, 0]);
    const final = finalOf([
      [100, ALICE],
      [150, BOB],
    ]);
    const verdict = verdictOf(log, final);
    expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
    expect(formatVerdict(verdict)).toContain("seq 2 (150 by user 12) is stored, but no bid that may have been stored makes it; bidder 2 req 1: BID 150 by user 12, UNAVAILABLE");
    expect(verdictOf(log, final, { unavailableMayBeStored: true }).outcome).toBe(Outcome.LINEARIZABLE);
  });

  test("an indeterminate bid cannot take effect before it was sent", () => {
    // A QUERY saw Bob's bid before Bob sent it: the bid never answered does not excuse that.
    const log = new ClientLog();
    query(log, 0, 1, 1, 100, BOB);
    bid(log, BOB, 100, 2, null);
    expect(verdictOf(log, finalOf([[100, BOB]])).outcome).toBe(Outcome.NOT_LINEARIZABLE);
  });

  test("a CLOSED answer, then a bid ACCEPTED after it, is not linearizable", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1, Status.CLOSED, [0, 0]);
    bid(log, BOB, 200, 2, 3);
    expect(verdictOf(log, finalOf([[200, BOB]], true)).outcome).toBe(Outcome.NOT_LINEARIZABLE);
    // Overlapping, the ACCEPTED may have come just before the end.
    const overlapping = new ClientLog();
    bid(overlapping, ALICE, 100, 0, 3, Status.CLOSED, [200, BOB]);
    bid(overlapping, BOB, 200, 1, 2);
    expect(verdictOf(overlapping, finalOf([[200, BOB]], true)).outcome).toBe(Outcome.LINEARIZABLE);
  });
});

describe("linearizability: correct histories pass", () => {
  test("indeterminate bids: UNCONFIRMED stored or not, unanswered stored or not", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 1);
    bid(log, BOB, 150, 2, 3, Status.UNCONFIRMED, [0, 0]); // stored: a later read and the history show it
    query(log, 4, 5, 2, 150, BOB);
    bid(log, CAROL, 160, 6, 7, Status.UNCONFIRMED, [0, 0]); // not stored
    bid(log, ALICE, 170, 8, null); // never answered, stored
    bid(log, BOB, 180, 9, null); // never answered, not stored
    bid(log, CAROL, 165, 10, 11, Status.OUTBID, [170, ALICE]);
    const final = finalOf([
      [100, ALICE],
      [150, BOB],
      [170, ALICE],
    ]);
    const verdict = verdictOf(log, final);
    expect(verdict.explanation).toEqual([]);
    expect(verdict.outcome).toBe(Outcome.LINEARIZABLE);
    expect(verdict.indeterminate).toBe(4);
  });

  test("a retried UNCONFIRMED bid answered OUTBID with the bidder as leader (the contract's advice)", () => {
    const log = new ClientLog();
    bid(log, ALICE, 100, 0, 5, Status.UNCONFIRMED, [0, 0]);
    bid(log, ALICE, 100, 6, 7, Status.OUTBID, [100, ALICE]);
    expect(verdictOf(log, finalOf([[100, ALICE]])).outcome).toBe(Outcome.LINEARIZABLE);
  });

  test("random histories from an atomic server, with random concurrency and indeterminate bids, are linearizable", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          auctions: fc.integer({ min: 1, max: 6 }),
          clients: fc.integer({ min: 1, max: 24 }),
          operations: fc.integer({ min: 1, max: 600 }),
          unconfirmedShare: fc.double({ min: 0, max: 0.3, noNaN: true }),
          unansweredShare: fc.double({ min: 0, max: 0.2, noNaN: true }),
        }),
        (options) => {
          const { log, final } = simulateAuctions(options);
          for (const verdict of checkLinearizability(log, final)) {
            if (verdict.outcome !== Outcome.LINEARIZABLE) throw new Error(`auction ${verdict.auction}: ${formatVerdict(verdict)}`);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test("random histories with one stale read planted are not linearizable", () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const { log, final } = simulateAuctions({ seed, auctions: 2, clients: 8, operations: 400, queryShare: 0.2 });
        // A QUERY sent after some ACCEPTED was answered, now reporting the state just before that bid.
        const accepted = log.bidders.flatMap((b) => b.records).filter((r) => r.status === Status.ACCEPTED && r.replies === 1);
        for (const reader of log.readers) {
          for (const read of reader.records) {
            const before = accepted.find((r) => r.auction === read.auction && r.receivedAt < read.sentAt);
            if (before === undefined) continue;
            const auction = final.find((a) => a.id === read.auction)!;
            const seq = auction.history.findIndex((e) => e.amount === before.resultAmount); // the state before it
            read.seq = seq;
            read.amount = seq === 0 ? 0 : auction.history[seq - 1]!.amount;
            read.leader = seq === 0 ? 0 : auction.history[seq - 1]!.user;
            const verdict = checkLinearizability(log, [auction])[0]!;
            expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
            planted++;
            return;
          }
        }
      }),
      { numRuns: 40 },
    );
    expect(planted).toBeGreaterThan(30);
  });

  test("20,000 operations over 100 auctions with concurrency 16 check in seconds", () => {
    const { log, final } = simulateAuctions({ seed: 20_000, auctions: 100, clients: 16, operations: 20_000 });
    const started = performance.now();
    const verdicts = checkLinearizability(log, final);
    const ms = performance.now() - started;
    expect(verdicts).toHaveLength(100);
    expect(verdicts.every((v) => v.outcome === Outcome.LINEARIZABLE)).toBe(true);
    // Bids refused before the store are not searched (they cannot have changed anything).
    expect(verdicts.reduce((n, v) => n + v.operations, 0)).toBeGreaterThan(19_000);
    console.log(`20,000 operations, 100 auctions, concurrency 16: checked in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(10_000);

    // One auction, 30,000 operations, 24 clients: still quick.
    const big = simulateAuctions({ seed: 30_000, auctions: 1, clients: 24, operations: 30_000, eventful: false });
    const bigStarted = performance.now();
    expect(checkLinearizability(big.log, big.final)[0]!.outcome).toBe(Outcome.LINEARIZABLE);
    console.log(`30,000 operations on one auction, concurrency 24: checked in ${(performance.now() - bigStarted).toFixed(0)} ms`);
  });

  test("a search past its work bound gives a clear unknown verdict, not a hang", () => {
    const { log, final } = simulateAuctions({ seed: 7, auctions: 1, clients: 16, operations: 2_000 });
    const verdict = checkLinearizability(log, final, { maxSteps: 50 })[0]!;
    expect(verdict.outcome).toBe(Outcome.UNKNOWN);
    expect(formatVerdict(verdict)).toContain("no verdict: more than 50 search steps");
    const violations = check(log, final, { allowUnacknowledged: true }).filter((v) => v.kind === ViolationKind.LINEARIZABILITY_UNKNOWN);
    expect(violations).toHaveLength(0); // the default bound is ample
  });
});

describe("linearizability: a real server", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const AUCTIONS = 4;
  const CONNECTIONS = 4;
  const PER_TICK = 20;
  const LIFE_MS = 400;
  const SECOND_LIFE_AMOUNT = 10_000_000;

  async function createAuctions(node: GavelProcess): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < AUCTIONS; i++) {
      const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
      expect(response.status).toBe(201);
      ids.push(((await response.json()) as { id: number }).id);
    }
    return ids;
  }

  test("(d) the memory store restarted after kill -9 under load: acknowledged bids vanished, and the check says so", async () => {
    const first = await spawnGavel({ GAVEL_STORE: "memory" });
    cleanups.push(() => first.kill("SIGKILL"));
    const auctions = await createAuctions(first);
    const firstLife = new ClientLog();
    const before = await SteadyLoad.start({ port: first.port, auctions, connections: CONNECTIONS, perTick: PER_TICK, log: firstLife, label: "first life" });
    cleanups.push(() => before.close());
    await Bun.sleep(LIFE_MS);
    await before.waitForOutstanding(CONNECTIONS * PER_TICK);
    await first.kill("SIGKILL");
    await before.settle();
    before.close();
    expect(before.count(Status.ACCEPTED)).toBeGreaterThan(0);

    // The same ports, the same auction ids, an empty store; the bidders carry on.
    const second = await spawnGavel({ GAVEL_STORE: "memory", GAVEL_PORT: String(first.port), GAVEL_HTTP_PORT: String(first.httpPort) });
    cleanups.push(() => second.kill("SIGKILL"));
    expect([second.port, second.httpPort]).toEqual([first.port, first.httpPort]);
    expect(await createAuctions(second)).toEqual(auctions);
    const secondLife = new ClientLog();
    const after = await SteadyLoad.start({ port: second.port, auctions, connections: CONNECTIONS, perTick: PER_TICK, log: secondLife, label: "second life", firstAmount: SECOND_LIFE_AMOUNT });
    cleanups.push(() => after.close());
    await Bun.sleep(LIFE_MS);
    await after.settle();
    after.close();
    expect(after.count(Status.ACCEPTED)).toBeGreaterThan(0);
    const final = await fetchFinalState(second.httpUrl, auctions);

    // The second life on its own is a correct history of this store: the control.
    for (const verdict of checkLinearizability(secondLife, final)) expect(verdict.outcome).toBe(Outcome.LINEARIZABLE);

    // Both lives: every auction lost acknowledged bids, and each verdict says which.
    const both = new ClientLog();
    both.bidders.push(...firstLife.bidders, ...secondLife.bidders);
    const verdicts = checkLinearizability(both, final);
    for (const verdict of verdicts) {
      expect(verdict.outcome).toBe(Outcome.NOT_LINEARIZABLE);
      expect(formatVerdict(verdict)).toContain("an acknowledged bid was lost");
    }
    const violations = check(both, final, { allowUnacknowledged: true });
    expect(violations.filter((v) => v.kind === ViolationKind.NOT_LINEARIZABLE)).toHaveLength(AUCTIONS);
    console.log(`memory store, kill -9 and restart: ${before.count(Status.ACCEPTED)} ACCEPTED before the kill; the check says, for auction ${verdicts[0]!.auction}:\n${formatVerdict(verdicts[0]!)}`);
  });
});
