// Waiting, before the check, for subscribers to catch up with the final state.

import { check } from "./check.ts";
import type { ClientLog } from "./client-log.ts";
import type { FinalState } from "./final-state.ts";
import { ViolationKind } from "./violations.ts";

/** How often `settle` re-reads the final state while subscribers catch up. */
const SETTLE_POLL_MS = 50;

/**
 * Waits until every connected subscriber has caught up with `final` (the final seq, and the
 * CLOSED of ended auctions), re-reading the final state each round; returns the last read.
 * Times out quietly: `check` then reports what is missing.
 */
export async function settle(log: ClientLog, readFinal: () => Promise<FinalState>, timeoutMs = 10_000): Promise<FinalState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const final = await readFinal();
    const missing = check(log, final, { linearizability: false }).some((v) => v.kind === ViolationKind.MISSED_UPDATES);
    if (!missing || Date.now() > deadline) return final;
    await Bun.sleep(SETTLE_POLL_MS);
  }
}
