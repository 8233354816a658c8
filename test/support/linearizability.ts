// The linearizability check of Gavel's auctions: is there, for each auction, one total order of
// every BID and read that agrees with real time (an operation answered before another was sent
// comes first) and in which each reply is what the bid rule gives in that order? The store's
// final bid history is one last read, so a lost acknowledged bid fails even if nothing else read
// the auction. consistency.ts's `check` includes this verdict; docs/reliability.md
// ("Linearizability") tells how to read it.
//
// Each auction is checked on its own (the model is partitioned by auction): first the quick
// necessary conditions (every reply fits some state of the final history; every stored step has
// a bid that may have made it), then Wing & Gong's search with Lowe's memoization
// (linearizability-search.ts) over the model (linearizability-model.ts), bounded in work.
//
// @example
//   const verdicts = checkLinearizability(log, await fetchFinalState(httpUrl, auctions));
//   for (const v of verdicts) if (v.outcome !== Outcome.LINEARIZABLE) console.log(formatVerdict(v));

import { Status } from "../../src/protocol/constants.ts";
import type { ClientLog, FinalAuction, FinalState, Violation } from "./consistency.ts";
import { buildHistories, type AuctionHistory, type HistoryOptions } from "./linearizability-history.ts";
import { ALL_FLAGS, AuctionRegister, NO_STEP, OperationKind, pack, seqOf, type BidOperation, type Operation } from "./linearizability-model.ts";
import { Outcome, searchLinearization } from "./linearizability-search.ts";

export { Outcome } from "./linearizability-search.ts";

/** Work bound per auction: search loop iterations (about 20 ns each), then the verdict is UNKNOWN. */
export const DEFAULT_MAX_STEPS = 10_000_000;
/** Memory bound per auction: configurations in Lowe's cache (16 bytes each, in a table up to 4x that). */
export const DEFAULT_MAX_CONFIGURATIONS = 4_000_000;
/** Explanation lines kept per auction. */
const LISTED_PROBLEMS = 8;

export interface LinearizabilityOptions extends HistoryOptions {
  maxSteps?: number;
  maxConfigurations?: number;
}

export interface AuctionVerdict {
  auction: number;
  outcome: Outcome;
  /** Operations searched (the final read included), and how many of them indeterminate. */
  operations: number;
  indeterminate: number;
  steps: number;
  /** Why it is not linearizable, or why there is no verdict; empty when linearizable. */
  explanation: string[];
}

function toMap(final: FinalState): ReadonlyMap<number, FinalAuction> {
  if (final instanceof Map) return final;
  return new Map((final as readonly FinalAuction[]).map((a) => [a.id, a]));
}

/** One verdict per auction in `final`. The log must hold every bid sent to those auctions. */
export function checkLinearizability(log: ClientLog, final: FinalState, options: LinearizabilityOptions = {}): AuctionVerdict[] {
  const verdicts: AuctionVerdict[] = [];
  for (const history of buildHistories(log, toMap(final), options).values()) verdicts.push(checkAuction(history, options));
  return verdicts;
}

/** The verdicts that are not LINEARIZABLE, as consistency violations. */
export function linearizabilityViolations(log: ClientLog, auctions: ReadonlyMap<number, FinalAuction>, options: LinearizabilityOptions = {}): Violation[] {
  const violations: Violation[] = [];
  for (const verdict of checkLinearizability(log, auctions, options)) {
    if (verdict.outcome === Outcome.LINEARIZABLE) continue;
    violations.push({
      kind: verdict.outcome === Outcome.NOT_LINEARIZABLE ? "not-linearizable" : "linearizability-unknown",
      auction: verdict.auction,
      message: formatVerdict(verdict),
    });
  }
  return violations;
}

/** The verdict in a few lines: outcome and size, then each reason on its own line. */
export function formatVerdict(verdict: AuctionVerdict): string {
  const head = `${verdict.outcome} (${verdict.operations} operations, ${verdict.indeterminate} indeterminate, ${verdict.steps} search steps)`;
  return [head, ...verdict.explanation.map((line) => `      ${line}`)].join("\n");
}

/** What an operation requires of the history: the seq it reports, or the step it makes. */
interface Pin {
  /** The state seq it must see; for an ACCEPTED, the seq it moves the auction to. */
  seq: number;
  makesStep: boolean;
}

/** Checks one auction's history. */
export function checkAuction(history: AuctionHistory, options: LinearizabilityOptions = {}): AuctionVerdict {
  const { auction, operations } = history;
  const steps = auction.history.map((e) => ({ amount: e.amount, user: e.user }));
  const model = new AuctionRegister(
    { startingPrice: auction.startingPrice, minIncrement: auction.minIncrement, reserve: auction.reserve, buyNowPrice: auction.buyNowPrice },
    steps,
    { seq: auction.seq, amount: auction.amount, leader: auction.leader, closed: auction.closed },
  );
  const seqOfAmount = new Map<number, number>();
  steps.forEach((s, i) => {
    if (!seqOfAmount.has(s.amount)) seqOfAmount.set(s.amount, i + 1);
  });
  const indeterminate = operations.filter((op) => !op.determinate).length;
  const verdict = (outcome: Outcome, explanation: string[], searched = 0): AuctionVerdict => ({
    auction: auction.id,
    outcome,
    operations: operations.length,
    indeterminate,
    steps: searched,
    explanation,
  });

  const fitsAt = (seq: number, op: Operation) => ALL_FLAGS.some((flags) => model.step(pack(seq, flags), op) !== NO_STEP);
  const pins = new Map<Operation, Pin>();
  const problems: string[] = [];

  // Every determinate reply must fit some state of the final history.
  for (const op of operations) {
    if (!op.determinate) continue;
    if (op.kind === OperationKind.FINAL) {
      if (!fitsAt(steps.length, op)) problems.push(`the final state (seq ${auction.seq}, ${auction.amount} by user ${auction.leader}) is not where its history of ${steps.length} bids ends`);
      continue;
    }
    if (op.kind === OperationKind.BID && op.status === Status.ACCEPTED) {
      const seq = seqOfAmount.get(op.replyAmount);
      if (seq === undefined || steps[seq - 1]!.user !== op.user) {
        problems.push(`${op.describe()}: the final history holds no step ${op.replyAmount} by user ${op.user}: an acknowledged bid was lost`);
      } else if (!fitsAt(seq - 1, op)) problems.push(`${op.describe()}: the bid rule does not make seq ${seq} of it from seq ${seq - 1} (${model.describe(pack(seq - 1, 0))})`);
      else pins.set(op, { seq, makesStep: true });
      continue;
    }
    const seq = reportedSeq(op, seqOfAmount, steps);
    if (seq === undefined) problems.push(`${op.describe()}: a state the final history never had`);
    else if (!fitsAt(seq, op)) problems.push(`${op.describe()}: does not fit the auction at ${model.describe(pack(seq, 0))} by the bid rule`);
    else pins.set(op, { seq, makesStep: false });
  }

  // Every stored step needs a bid that may have made it; indeterminate bids are offered by step.
  const optionalByStep: BidOperation[][] = steps.map(() => []);
  for (const op of operations) {
    if (op.determinate || op.kind !== OperationKind.BID) continue;
    for (const seq of stepsItMayMake(op, auction, seqOfAmount, steps.length)) if (fitsAt(seq - 1, op)) optionalByStep[seq - 1]!.push(op);
  }
  const claims: Operation[][] = steps.map(() => []);
  for (const [op, pin] of pins) if (pin.makesStep) claims[pin.seq - 1]!.push(op);
  steps.forEach((step, i) => {
    const made = claims[i]!;
    if (made.length > 1) problems.push(`seq ${i + 1} (${step.amount} by user ${step.user}) was ACCEPTED twice: ${made[0]!.describe()}; and ${made[1]!.describe()}`);
    if (made.length > 0 || optionalByStep[i]!.length > 0) return;
    const same = history.noEffect.find((op) => op.user === step.user && op.amount === step.amount);
    problems.push(
      `seq ${i + 1} (${step.amount} by user ${step.user}) is stored, but no bid that may have been stored makes it` +
        (same === undefined ? "" : `; ${same.describe()}, which says nothing was stored`),
    );
  });
  if (problems.length > 0) return verdict(Outcome.NOT_LINEARIZABLE, listed(problems));

  // The seq each determinate operation must find the auction at: a quick test before the model's.
  const neededSeq = new Float64Array(operations.length).fill(-1);
  const determinateAt = new Uint8Array(steps.length + 1);
  for (const [op, pin] of pins) neededSeq[op.index] = pin.makesStep ? pin.seq - 1 : pin.seq;
  neededSeq[operations.length - 1] = steps.length; // the final read
  for (const op of operations) if (op.determinate) determinateAt[neededSeq[op.index]!] = 1;
  const result = searchLinearization(
    operations,
    {
      initial: model.initial,
      step: (state, op) => {
        const needed = neededSeq[op.index]!;
        return needed >= 0 && needed !== seqOf(state) ? NO_STEP : model.step(state, op);
      },
      optional: (state) => optionalByStep[seqOf(state)] ?? [],
      determinateMayStep: (state) => determinateAt[seqOf(state)] === 1,
    },
    { maxSteps: options.maxSteps ?? DEFAULT_MAX_STEPS, maxConfigurations: options.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS },
  );
  if (result.outcome === Outcome.LINEARIZABLE) return verdict(result.outcome, [], result.steps);
  if (result.outcome === Outcome.UNKNOWN) return verdict(result.outcome, [`no verdict: ${result.reason} (raise maxSteps / maxConfigurations, or check a shorter run)`], result.steps);
  const { blocked, state, linearized } = result.deepest!;
  const lines = [
    `no order consistent with real time explains every reply. The furthest any order got: ${linearized} operations, the auction at ${model.describe(state)}; then this one cannot be placed before its response:`,
    `  ${blocked.describe()}`,
  ];
  const witness = realTimeWitness(blocked, pins.get(blocked), operations, pins);
  if (witness !== null) lines.push(`  for example: ${witness}`);
  return verdict(result.outcome, lines, result.steps);
}

/** The seqs a bid could have moved the auction to: its own amount, or the buy-now price (all, when that is unknown). */
function stepsItMayMake(op: BidOperation, auction: FinalAuction, seqOfAmount: ReadonlyMap<number, number>, count: number): number[] {
  if (auction.buyNowPrice === undefined) return Array.from({ length: count }, (_, i) => i + 1);
  const seqs: number[] = [];
  const own = seqOfAmount.get(op.amount);
  if (own !== undefined) seqs.push(own);
  const bought = auction.buyNowPrice > 0 && op.amount > auction.buyNowPrice ? seqOfAmount.get(auction.buyNowPrice) : undefined;
  if (bought !== undefined) seqs.push(bought);
  return seqs;
}

/** The seq whose state a determinate non-ACCEPTED reply reports (undefined: none). */
function reportedSeq(op: Operation, seqOfAmount: ReadonlyMap<number, number>, steps: readonly { amount: number; user: number }[]): number | undefined {
  if (op.kind === OperationKind.READ) return op.seq;
  if (op.kind !== OperationKind.BID) return steps.length;
  if (op.replyAmount === 0 && op.replyLeader === 0) return 0;
  const seq = seqOfAmount.get(op.replyAmount);
  return seq !== undefined && steps[seq - 1]!.user === op.replyLeader ? seq : undefined;
}

/** An operation whose real-time order contradicts where `blocked` must go, if there is a plain one. */
function realTimeWitness(blocked: Operation, pin: Pin | undefined, operations: readonly Operation[], pins: ReadonlyMap<Operation, Pin>): string | null {
  if (pin === undefined) return null;
  for (const other of operations) {
    const otherPin = pins.get(other);
    if (otherPin === undefined || other === blocked) continue;
    // Answered before `blocked` was sent, yet it saw (or made) a later state than `blocked` needs.
    const later = pin.makesStep ? otherPin.seq >= pin.seq && !(otherPin.makesStep && otherPin.seq === pin.seq) : otherPin.seq > pin.seq;
    if (other.ret < blocked.call && later) return `${other.describe()} was answered before it was sent and saw seq ${otherPin.seq}`;
    // Sent after `blocked` was answered, yet it made a step `blocked` saw.
    if (other.call > blocked.ret && otherPin.makesStep && (pin.makesStep ? otherPin.seq < pin.seq : otherPin.seq <= pin.seq)) {
      return `${other.describe()} made seq ${otherPin.seq}, but was sent only after it was answered`;
    }
  }
  return null;
}

function listed(problems: string[]): string[] {
  if (problems.length <= LISTED_PROBLEMS) return problems;
  return [...problems.slice(0, LISTED_PROBLEMS), `... and ${problems.length - LISTED_PROBLEMS} more`];
}
