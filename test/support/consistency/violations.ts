// What the consistency check reports: the closed set of violation kinds, one violation, and a
// readable report of many (the message of a ConsistencyError).

export const ViolationKind = {
  /** An ACCEPTED bid the store does not hold, or a final amount below an acknowledged bid. */
  LOST_BID: "lost-bid",
  /** The final amount or leader is not the highest acknowledged bid. */
  FINAL_MISMATCH: "final-mismatch",
  /** A stored bid no client was told was accepted (or, after a crash, that no client sent). */
  PHANTOM_BID: "phantom-bid",
  /** A stored bid that was answered UNAVAILABLE or OVERLOADED, which promise nothing was stored. */
  REFUSED_BUT_STORED: "refused-but-stored",
  /** The history's seqs do not run 1..n, or it disagrees with the auction's seq/amount/leader. */
  HISTORY_BROKEN: "history-broken",
  /** Accepted amounts do not strictly increase with seq. */
  INVERSION: "inversion",
  /** A subscriber saw the same seq twice. */
  SEQ_DUPLICATE: "seq-duplicate",
  /** A subscriber's seqs went backwards. */
  SEQ_BACKWARDS: "seq-backwards",
  /** A subscriber's seqs skipped one (not allowed without conflation). */
  SEQ_GAP: "seq-gap",
  /** A subscriber that stayed connected did not reach the final seq, or missed the CLOSED. */
  MISSED_UPDATES: "missed-updates",
  /** An UPDATE disagrees with the history entry of its seq, or with another subscriber's. */
  UPDATE_MISMATCH: "update-mismatch",
  /** A RESULT's fields disagree with the bid or the store. */
  RESULT_MISMATCH: "result-mismatch",
  /** A RESULT's status contradicts the bid or the contract's rule. */
  WRONG_STATUS: "wrong-status",
  /** Two ACCEPTEDs for one stored bid. */
  DUPLICATE_ACCEPT: "duplicate-accept",
  /** Bids one connection sent were not applied in the order sent. */
  ORDER: "order",
  /** A BID that got no reply. */
  UNANSWERED: "unanswered",
  /** A BID that got more than one reply, or a reply to a req never sent. */
  DUPLICATE_REPLY: "duplicate-reply",
  /** More than one CLOSED for an auction on one subscriber. */
  CLOSED_DUPLICATE: "closed-duplicate",
  /** A CLOSED with the wrong seq, winner or amount, or CLOSEDs that disagree. */
  CLOSED_WRONG: "closed-wrong",
  /** An UPDATE pushed after the auction's CLOSED. */
  UPDATE_AFTER_CLOSED: "update-after-closed",
  /** No order of the operations consistent with real time explains every reply (linearizability.ts). */
  NOT_LINEARIZABLE: "not-linearizable",
  /** The linearizability search ran out of its work bound: no verdict. */
  LINEARIZABILITY_UNKNOWN: "linearizability-unknown",
} as const;
export type ViolationKind = (typeof ViolationKind)[keyof typeof ViolationKind];

export interface Violation {
  kind: ViolationKind;
  /** The auction concerned; 0 for none. */
  auction: number;
  message: string;
}

/** How many violation messages an error lists in full. */
const LISTED_VIOLATIONS = 40;

export class ConsistencyError extends Error {
  override readonly name = "ConsistencyError";
  constructor(readonly violations: readonly Violation[]) {
    super(formatViolations(violations));
  }
}

/** A readable report: counts per kind, then the first violations in full. */
export function formatViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return "consistent";
  const counts = new Map<string, number>();
  for (const v of violations) counts.set(v.kind, (counts.get(v.kind) ?? 0) + 1);
  const lines = [`${violations.length} consistency violation(s): ${[...counts].map(([kind, n]) => `${kind} x${n}`).join(", ")}`];
  for (const v of violations.slice(0, LISTED_VIOLATIONS)) lines.push(`  [${v.kind}] auction ${v.auction}: ${v.message}`);
  if (violations.length > LISTED_VIOLATIONS) lines.push(`  ... and ${violations.length - LISTED_VIOLATIONS} more`);
  return lines.join("\n");
}
