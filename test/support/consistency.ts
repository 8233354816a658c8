// The auction invariants, checked from what clients saw and what the store holds at the end;
// see docs/protocol.md ("Rules every implementation keeps").
//
// A test (or the load generator) records into a `ClientLog` as it goes: every BID sent and the
// reply it got, per bidder connection, and every STATE, UPDATE and CLOSED per subscriber
// connection. Once the run is quiet it reads the final state of each auction (the store's
// seq, amount, leader, closed, winner and the whole bid history) and calls `check`, which
// returns every violation found; `assertConsistent` throws with all of them.
//
// @example
//   const log = new ClientLog();
//   const bidder = log.bidder("bidder 1");
//   bidder.sent(req, auction, user, amount);          // as each BID leaves
//   for (const frame of raw.frames) bidder.observe(frame); // RESULTs (any time, in order)
//   const sub = log.subscriber("sub 1");
//   sub.subscribed(auction, 0);
//   for (const frame of subRaw.frames) sub.observe(frame);
//   assertConsistent(log, await fetchFinalState(httpUrl, [auction]));
//
// The parts, one concept a file, in consistency/: client-log.ts (what clients saw), final-state.ts
// (what the store holds at the end, and reading it), check.ts (the invariants), violations.ts
// (what the check reports), settle.ts (waiting for subscribers to catch up). Import from here.

export { BidderLog, ClientLog, NO_RESULT, SubscriberLog, type BidRecord, type SeenClosed, type SeenUpdate, type SubscriptionTrace } from "./consistency/client-log.ts";
export { fetchFinalState, finalStateFromStore, type FetchOptions, type FinalAuction, type FinalHistoryEntry, type FinalState } from "./consistency/final-state.ts";
export { assertConsistent, check, expectedWinner, type CheckOptions } from "./consistency/check.ts";
export { ConsistencyError, formatViolations, ViolationKind, type Violation } from "./consistency/violations.ts";
export { settle } from "./consistency/settle.ts";
