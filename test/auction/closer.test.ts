// When the closer runs: at the earliest end its store knows of (not up to an interval later),
// at least an interval apart when nothing is known to end, and an interval apart while the
// store fails (a store that is away is not asked at the minimum gap).

import { afterEach, expect, test } from "bun:test";
import type { ClosedAuction } from "../../src/auction/auction.ts";
import { Closer } from "../../src/auction/closer.ts";
import { MemoryStore } from "../../src/store/memory.ts";

const MINUTE = 60_000;
/** Far longer than any pass here should take to come: a pass an interval late fails the test. */
const WAIT_MS = 3_000;

const closers: Closer[] = [];
afterEach(() => {
  for (const closer of closers.splice(0)) closer.stop();
});

function auction(id: number, endsAt: number) {
  return { id, title: "lot", startingPrice: 100, minIncrement: 10, reserve: 0, buyNowPrice: 0, startsAt: endsAt - MINUTE, endsAt, antiSnipeMs: 0, maxEndsAt: 0 };
}

/** A closer on `store` with a one-minute interval, and the auctions it closes as they come. */
function closerOn(store: MemoryStore): { closed: { auction: ClosedAuction; at: number }[]; next: () => Promise<ClosedAuction> } {
  const closed: { auction: ClosedAuction; at: number }[] = [];
  let wake: (() => void) | null = null;
  const closer = new Closer(
    (limit) => store.closeDue(limit),
    MINUTE,
    (auction) => {
      closed.push({ auction, at: store.now() });
      wake?.();
    },
    () => {},
    () => store.nextDueAt() - store.now(),
  );
  closers.push(closer);
  closer.start();
  let taken = 0;
  const next = async () => {
    const deadline = Date.now() + WAIT_MS;
    while (closed.length <= taken) {
      if (Date.now() > deadline) throw new Error(`no auction closed within ${WAIT_MS} ms (the closer's interval is a minute)`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return closed[taken++]!.auction;
  };
  return { closed, next };
}

test("an auction is closed at its end, not at the closer's next interval", async () => {
  const store = new MemoryStore();
  const endsAt = store.now() + 200;
  await store.createAuction(auction(1, endsAt));
  const { closed, next } = closerOn(store);
  expect((await next()).id).toBe(1);
  expect(closed[0]!.at).toBeGreaterThanOrEqual(endsAt);
});

test("auctions ending one after another each close at their end; one created while the closer waits closes at its end too", async () => {
  const store = new MemoryStore();
  const now = store.now();
  for (const [id, offset] of [[1, 100], [2, 300], [3, 600]] as const) await store.createAuction(auction(id, now + offset));
  const { next } = closerOn(store);
  expect((await next()).id).toBe(1);
  // Created while the closer waits for auction 2's end: the pass after that one comes at its end.
  await store.createAuction(auction(4, now + 350));
  expect((await next()).id).toBe(2);
  expect((await next()).id).toBe(4);
  expect((await next()).id).toBe(3);
});

test("a failing store is asked once an interval, not at the minimum gap", async () => {
  const INTERVAL_MS = 200;
  let calls = 0;
  const logged: string[] = [];
  const closer = new Closer(
    async () => {
      calls++;
      throw new Error("the store is away");
    },
    INTERVAL_MS,
    () => {},
    (message) => logged.push(message),
    () => 0, // something is due now, by what the store knew before it went away
  );
  closers.push(closer);
  closer.start();
  await Bun.sleep(5 * INTERVAL_MS + INTERVAL_MS / 2);
  // The first pass comes at the minimum gap (nothing had failed yet), then one an interval.
  expect(calls).toBeGreaterThanOrEqual(3);
  expect(calls).toBeLessThanOrEqual(7);
  expect(logged.filter((m) => m.includes("the store is away"))).toHaveLength(1);
});
