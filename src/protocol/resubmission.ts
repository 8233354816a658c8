// What resending an UNCONFIRMED bid proves about the first one; see docs/protocol.md (RESULT
// status UNCONFIRMED). Pure: the SDK and the live page both use it.

import { Status } from "./constants.ts";

/** The fields of the RESULT that answered the resubmission. */
export interface ResubmissionResult {
  status: number;
  amount: number;
  leader: number;
}

/**
 * Whether the first of two identical bids (same auction, user, amount) was stored, judged from
 * the RESULT of the second: true, false, or null when that RESULT cannot tell.
 *
 * - ACCEPTED: the first was not stored (had it been, this one would be below the next minimum,
 *   so OUTBID); this one is stored now.
 * - a RESULT that reports this user leading at exactly this amount (OUTBID, or CLOSED): the
 *   first was stored, and still leads.
 * - anything else: unknown. Someone bid above it since (then it does not lead, stored or not),
 *   or the store did not answer again (UNCONFIRMED, UNAVAILABLE: ask again later).
 *
 * One caveat: where the same user also holds a proxy maximum (MAX_BID) on the auction, a lead
 * at exactly this amount may come from that maximum rather than from this bid.
 */
export function firstBidStored(result: ResubmissionResult, user: number, amount: number): boolean | null {
  if (result.status === Status.ACCEPTED) return false;
  if ((result.status === Status.OUTBID || result.status === Status.CLOSED) && result.leader === user && result.amount === amount) return true;
  return null;
}
