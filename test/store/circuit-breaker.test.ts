// The circuit breaker around a store's bid path: opens after N failed batches in a row, then
// fails fast without calling the store, probes once per cool-down, closes on success.

import { describe, expect, test } from "bun:test";
import { BreakerState, CircuitBreakerStore } from "../../src/store/circuit-breaker.ts";
import { StoreUnavailableError, StoreUnconfirmedError } from "../../src/store/errors.ts";
import { failedBatchStatus } from "../../src/queue/drain.ts";
import { Status } from "../../src/protocol/constants.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import type { StoreBatch } from "../../src/store/store.ts";
import { BidBatch } from "../../src/queue/bid-batch.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const FAILURES = 3;
const COOLDOWN_MS = 1000;

/** A memory store whose applyBids resolves, rejects or hangs as the test says, counting calls. */
class FlakyStore extends MemoryStore {
  mode: "ok" | "fail" | "hang" = "ok";
  calls = 0;
  readonly hung: { resolve: () => void; reject: (error: Error) => void }[] = [];

  override applyBids(batch: StoreBatch): Promise<void> {
    this.calls++;
    if (this.mode === "fail") return Promise.reject(new Error("connection refused"));
    if (this.mode === "hang") {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      this.hung.push({ resolve, reject });
      return promise;
    }
    super.applyBids(batch);
    return Promise.resolve();
  }
}

function setup() {
  const inner = new FlakyStore();
  const lines: string[] = [];
  let clock = 1_000_000;
  const breaker = new CircuitBreakerStore(inner, { failures: FAILURES, cooldownMs: COOLDOWN_MS, log: (line) => lines.push(line), now: () => clock });
  const batch = new BidBatch(4);
  batch.count = 4;
  /** applyBids through the breaker: "ok", "failed" (rejected by the store) or "refused" (thrown at once). */
  const apply = async (): Promise<"ok" | "failed" | "refused"> => {
    let pending: void | Promise<void>;
    try {
      pending = breaker.applyBids(batch);
    } catch (error) {
      expect(error).toBeInstanceOf(StoreUnavailableError);
      return "refused";
    }
    try {
      await pending;
      return "ok";
    } catch {
      return "failed";
    }
  };
  return { inner, breaker, lines, apply, advance: (ms: number) => (clock += ms) };
}

describe("circuit breaker", () => {
  test("stays closed through fewer failures in a row than the threshold", async () => {
    const { inner, breaker, apply, lines } = setup();
    inner.mode = "fail";
    for (let i = 0; i < FAILURES - 1; i++) expect(await apply()).toBe("failed");
    inner.mode = "ok";
    expect(await apply()).toBe("ok"); // a success resets the count
    inner.mode = "fail";
    for (let i = 0; i < FAILURES - 1; i++) expect(await apply()).toBe("failed");
    expect(breaker.state).toBe(BreakerState.CLOSED);
    expect(lines).toEqual([]);
  });

  test("opens after N failures in a row, refuses without calling the store, probes after the cool-down, closes", async () => {
    const { inner, breaker, apply, advance, lines } = setup();
    inner.mode = "fail";
    for (let i = 0; i < FAILURES; i++) expect(await apply()).toBe("failed");
    expect(breaker.state).toBe(BreakerState.OPEN);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("circuit breaker open after 3 failed batches");
    expect(lines[0]).toContain("connection refused");

    const callsWhenOpened = inner.calls;
    for (let i = 0; i < 100; i++) expect(await apply()).toBe("refused");
    expect(inner.calls).toBe(callsWhenOpened);

    // After the cool-down one probe goes through; it fails: open again, no new log line.
    advance(COOLDOWN_MS);
    expect(await apply()).toBe("failed");
    expect(inner.calls).toBe(callsWhenOpened + 1);
    expect(breaker.state).toBe(BreakerState.OPEN);
    expect(await apply()).toBe("refused");
    expect(lines.length).toBe(1);

    // The store is back: the next probe succeeds and closes the breaker.
    advance(COOLDOWN_MS);
    inner.mode = "ok";
    expect(await apply()).toBe("ok");
    expect(breaker.state).toBe(BreakerState.CLOSED);
    expect(lines.length).toBe(2);
    expect(lines[1]).toContain("circuit breaker closed");
    expect(lines[1]).toContain("404 bids answered UNAVAILABLE"); // 101 refused batches of 4
    expect(await apply()).toBe("ok");
  });

  test("after a failure, no new batch goes to the store while others are out: a hung store collects no more", async () => {
    const { inner, breaker, apply } = setup();
    inner.mode = "hang";
    const inFlight = [apply(), apply(), apply()];
    inner.hung[0]!.reject(new Error("Command timed out"));
    expect(await inFlight[0]).toBe("failed");
    // Two batches sent before the failure are still out: the next is refused at once.
    expect(await apply()).toBe("refused");
    expect(inner.calls).toBe(3);
    // They time out too: that opens the breaker.
    inner.hung[1]!.reject(new Error("Command timed out"));
    inner.hung[2]!.reject(new Error("Command timed out"));
    expect(await Promise.all(inFlight.slice(1))).toEqual(["failed", "failed"]);
    expect(breaker.state).toBe(BreakerState.OPEN);

    // A failure with nothing else out: the next batch is a trial; while it is out, others are
    // refused; its success brings back several batches at once.
    const fresh = setup();
    fresh.inner.mode = "fail";
    expect(await fresh.apply()).toBe("failed");
    fresh.inner.mode = "hang";
    const trial = fresh.apply();
    expect(await fresh.apply()).toBe("refused");
    fresh.inner.hung[0]!.resolve();
    expect(await trial).toBe("ok");
    fresh.apply();
    fresh.apply();
    expect(fresh.inner.hung.length).toBe(3);
    expect(fresh.breaker.state).toBe(BreakerState.CLOSED);
  });

  test("half-open: while the probe hangs, every other batch is refused at once", async () => {
    const { inner, breaker, apply, advance } = setup();
    inner.mode = "fail";
    for (let i = 0; i < FAILURES; i++) await apply();
    advance(COOLDOWN_MS);
    inner.mode = "hang";
    const probe = apply();
    expect(breaker.state).toBe(BreakerState.HALF_OPEN);
    for (let i = 0; i < 10; i++) expect(await apply()).toBe("refused");
    expect(inner.hung.length).toBe(1);
    inner.hung[0]!.resolve();
    expect(await probe).toBe("ok");
    expect(breaker.state).toBe(BreakerState.CLOSED);
  });

  test("a batch sent before the breaker closed that fails late does not count against it", async () => {
    const { inner, breaker, apply, advance } = setup();
    inner.mode = "hang";
    const sent = [apply(), apply(), apply(), apply(), apply()];
    for (let i = 0; i < FAILURES; i++) inner.hung[i]!.reject(new Error("Command timed out"));
    await Promise.all(sent.slice(0, FAILURES));
    expect(breaker.state).toBe(BreakerState.OPEN);
    advance(COOLDOWN_MS);
    inner.mode = "ok";
    expect(await apply()).toBe("ok"); // the probe closes it
    // The two batches still out from before fail now: the closed breaker does not count them.
    inner.hung[3]!.reject(new Error("Command timed out"));
    inner.hung[4]!.reject(new Error("Command timed out"));
    expect(await Promise.all(sent.slice(FAILURES))).toEqual(["failed", "failed"]);
    expect(breaker.state).toBe(BreakerState.CLOSED);
    inner.mode = "hang";
    apply();
    apply();
    expect(inner.hung.length).toBe(7); // both went to the store: no failure is on the books
  });

  test("what the drain answers: a refusal by the breaker is UNAVAILABLE; the store's own failure keeps its class", async () => {
    const { inner, breaker, advance } = setup();
    const batch = new BidBatch(4);
    batch.count = 4;
    const failureOf = async (): Promise<unknown> => {
      try {
        await breaker.applyBids(batch);
      } catch (error) {
        return error;
      }
      return null;
    };
    // A store that may have applied the batch (a timeout): passed through as it is, UNCONFIRMED.
    inner.mode = "hang";
    const timedOut = failureOf();
    inner.hung[0]!.reject(new StoreUnconfirmedError("no reply from the store within 1000 ms"));
    expect(failedBatchStatus(await timedOut)).toBe(Status.UNCONFIRMED);
    // An unclassified error is UNCONFIRMED too: "nothing stored" only when the store is certain.
    inner.mode = "fail";
    expect(failedBatchStatus(await failureOf())).toBe(Status.UNCONFIRMED);
    // A store certain it stored nothing (nothing sent, or a rollback): UNAVAILABLE.
    inner.mode = "hang";
    const refusedByStore = failureOf();
    inner.hung[1]!.reject(new StoreUnavailableError("the connection is not ready: not sent"));
    expect(failedBatchStatus(await refusedByStore)).toBe(Status.UNAVAILABLE);
    expect(breaker.state).toBe(BreakerState.OPEN);
    // The breaker's own refusals, open and half-open: the store was not asked.
    const open = await failureOf();
    expect(open).toBeInstanceOf(StoreUnavailableError);
    expect(failedBatchStatus(open)).toBe(Status.UNAVAILABLE);
    advance(COOLDOWN_MS);
    const probe = failureOf();
    expect(failedBatchStatus(await failureOf())).toBe(Status.UNAVAILABLE);
    inner.hung[2]!.resolve();
    expect(await probe).toBeNull();
  });

  test("passes the store's kind and feed through, so the server treats it as the store it wraps", () => {
    const inner = new MemoryStore();
    const breaker = new CircuitBreakerStore(inner, { failures: 1, cooldownMs: 10, log: () => {} });
    expect(breaker.kind).toBe("memory");
    expect(breaker.feed).toBeUndefined();
    expect(() => new CircuitBreakerStore(inner, { failures: 0, cooldownMs: 10, log: () => {} })).toThrow(RangeError);
  });
});
