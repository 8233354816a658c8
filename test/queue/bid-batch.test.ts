// The bid batch: preallocated inputs and outputs for one store call. failAll answers every bid of
// the batch with one status and no auction data, and touches nothing past `count`. (Its reset
// after each use, reply targets dropped and count 0, is the drain's job: see drain.test.ts.)

import { describe, expect, test } from "bun:test";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { Status } from "../../src/protocol/constants.ts";

const CAPACITY = 8;
/** What the store left in the outputs before the failure (any non-zero values will do). */
const STALE_AMOUNT = 500;
const STALE_LEADER = 42;

describe("BidBatch", () => {
  test("every array is preallocated to the capacity, and a new batch is empty", () => {
    const batch = new BidBatch(CAPACITY);
    expect(batch.capacity).toBe(CAPACITY);
    expect(batch.count).toBe(0);
    for (const array of [batch.replyTo, batch.req, batch.auction, batch.user, batch.amount, batch.readAt, batch.status, batch.resultAmount, batch.resultLeader, batch.seq, batch.endsAt]) {
      expect(array.length).toBe(CAPACITY);
    }
    expect(batch.replyTo.every((target) => target === null)).toBe(true);
  });

  test("failAll gives every bid up to count the status, with amount and leader 0", () => {
    const batch = new BidBatch(CAPACITY);
    batch.count = 5;
    for (let i = 0; i < CAPACITY; i++) {
      batch.status[i] = Status.ACCEPTED;
      batch.resultAmount[i] = STALE_AMOUNT;
      batch.resultLeader[i] = STALE_LEADER;
    }
    batch.failAll(Status.UNCONFIRMED);
    for (let i = 0; i < 5; i++) {
      expect(batch.status[i]).toBe(Status.UNCONFIRMED);
      expect(batch.resultAmount[i]).toBe(0);
      expect(batch.resultLeader[i]).toBe(0);
    }
    // Slots past count belong to no bid of this batch: left as they were.
    for (let i = 5; i < CAPACITY; i++) {
      expect(batch.status[i]).toBe(Status.ACCEPTED);
      expect(batch.resultAmount[i]).toBe(STALE_AMOUNT);
      expect(batch.resultLeader[i]).toBe(STALE_LEADER);
    }
  });

  test("failAll leaves the inputs alone, so each answer still finds its request", () => {
    const batch = new BidBatch<string>(CAPACITY);
    batch.count = 2;
    batch.replyTo[0] = "conn-a";
    batch.replyTo[1] = "conn-b";
    batch.req[0] = 11;
    batch.req[1] = 12;
    batch.auction[0] = 7;
    batch.amount[1] = 250;
    batch.failAll(Status.UNAVAILABLE);
    expect([batch.replyTo[0], batch.replyTo[1]]).toEqual(["conn-a", "conn-b"]);
    expect([batch.req[0], batch.req[1]]).toEqual([11, 12]);
    expect(batch.auction[0]).toBe(7);
    expect(batch.amount[1]).toBe(250);
    expect([batch.status[0], batch.status[1]]).toEqual([Status.UNAVAILABLE, Status.UNAVAILABLE]);
  });

  test("failAll on an empty batch changes nothing", () => {
    const batch = new BidBatch(CAPACITY);
    batch.status[0] = Status.ACCEPTED;
    batch.failAll(Status.UNAVAILABLE);
    expect(batch.status[0]).toBe(Status.ACCEPTED);
  });
});
