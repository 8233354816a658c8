// Wing & Gong's linearizability search with Lowe's memoization, as Porcupine and Knossos run it,
// for one object (one auction) at a time.
//
// The determinate operations' calls and returns sit in one doubly linked list sorted by time
// (a call before a return at the same instant). The search walks the list from its head: at a
// call whose operation the model accepts in the current state, it lifts the call and its return
// out of the list, pushes the choice and starts again from the head; at a return, the operation
// was not linearized before its response: the choice on top of the stack is undone (unlift) and
// the walk goes on after it. The history is linearizable when no determinate operation is left.
// Lowe's cache (linearizability-cache.ts) skips a configuration (linearized set, state) already
// explored, which turns the exponential search into one that is usually near-linear.
//
// Two additions, both sound for models whose state only moves forward:
// - Indeterminate operations (no reply, or UNCONFIRMED: response time infinite) are not in the
//   list; when the walk reaches a return, the model offers the ones that could take effect in
//   the current state, and each invoked before that return is tried as a further choice. They
//   need never be linearized (taking no effect at all is the other outcome).
// - A step that leaves the state unchanged (a read, an OUTBID) is safe to take greedily: any
//   order that works can be rearranged to take it first. It is never undone as a choice of its
//   own: backtracking pops straight through it.

import { CacheFullError, ConfigurationCache } from "./linearizability-cache.ts";
import { seededRandom } from "./random.ts";

export interface SearchOperation {
  index: number;
  call: number;
  ret: number;
  determinate: boolean;
}

export interface SearchModel<Op extends SearchOperation> {
  readonly initial: number;
  /** The state after `op` in `state`, or a negative number when `op` cannot happen there. */
  step(state: number, op: Op): number;
  /** Indeterminate operations that might take effect in `state` (the search checks them with `step`). */
  optional(state: number): readonly Op[];
  /**
   * False when no determinate operation can step from `state` at all: the walk to the first
   * return would try each call in vain, so it is skipped (a history whose first 500 steps were
   * made by indeterminate bids would otherwise walk 200,000 calls 500 times).
   */
  determinateMayStep?(state: number): boolean;
}

export const Outcome = {
  LINEARIZABLE: "linearizable",
  NOT_LINEARIZABLE: "not-linearizable",
  /** The work or memory bound ran out first. */
  UNKNOWN: "unknown",
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface SearchResult<Op> {
  outcome: Outcome;
  /** Loop iterations spent (the unit of `maxSteps`). */
  steps: number;
  /** Configurations cached. */
  configurations: number;
  /** For NOT_LINEARIZABLE: the furthest the search got, and the operation it could not place there. */
  deepest: { linearized: number; state: number; blocked: Op } | null;
  /** Why UNKNOWN. */
  reason?: string;
}

export interface SearchLimits {
  maxSteps: number;
  maxConfigurations: number;
}

/** The Zobrist triples are drawn from a fixed seed: a run is reproducible. */
const ZOBRIST_SEED = 0x5eed_1a2b;
const RANDOM_WORD = 0x1_0000_0000;

interface Entry<Op> {
  op: Op | null;
  isCall: boolean;
  time: number;
  /** A call's return entry. */
  match: Entry<Op> | null;
  prev: Entry<Op> | null;
  next: Entry<Op> | null;
  /** Return entries are also linked among themselves, so the first one is at hand. */
  prevReturn: Entry<Op> | null;
  nextReturn: Entry<Op> | null;
}

interface Frame<Op> {
  op: Op;
  /** The state before the step. */
  state: number;
  /** The lifted call entry; null for an indeterminate operation. */
  entry: Entry<Op> | null;
  /** A step that kept the state: taken greedily, never a choice to revisit. */
  kept: boolean;
  /** For an indeterminate operation: where in `optional(state)` it was, and the return it was tried at. */
  optionalIndex: number;
  at: Entry<Op> | null;
}

function newEntry<Op>(op: Op | null, isCall: boolean, time: number, match: Entry<Op> | null): Entry<Op> {
  return { op, isCall, time, match, prev: null, next: null, prevReturn: null, nextReturn: null };
}

/** The list head: `next` is the first entry, `nextReturn` the first return. */
function buildList<Op extends SearchOperation>(ops: readonly Op[]): Entry<Op> {
  const entries: Entry<Op>[] = [];
  for (const op of ops) {
    if (!op.determinate) continue;
    const ret = newEntry(op, false, op.ret, null);
    entries.push(newEntry(op, true, op.call, ret), ret);
  }
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op!.index - b.op!.index : a.isCall ? -1 : 1));
  const head = newEntry<Op>(null, false, Number.NEGATIVE_INFINITY, null);
  let last = head;
  let lastReturn = head;
  for (const entry of entries) {
    last.next = entry;
    entry.prev = last;
    last = entry;
    if (entry.isCall) continue;
    lastReturn.nextReturn = entry;
    entry.prevReturn = lastReturn;
    lastReturn = entry;
  }
  return head;
}

function lift<Op>(entry: Entry<Op>): void {
  entry.prev!.next = entry.next;
  entry.next!.prev = entry.prev;
  const match = entry.match!;
  match.prev!.next = match.next;
  if (match.next !== null) match.next.prev = match.prev;
  match.prevReturn!.nextReturn = match.nextReturn;
  if (match.nextReturn !== null) match.nextReturn.prevReturn = match.prevReturn;
}

function unlift<Op>(entry: Entry<Op>): void {
  const match = entry.match!;
  match.prevReturn!.nextReturn = match;
  if (match.nextReturn !== null) match.nextReturn.prevReturn = match;
  match.prev!.next = match;
  if (match.next !== null) match.next.prev = match;
  entry.prev!.next = entry;
  entry.next!.prev = entry;
}

/** Is there an order of `ops` consistent with real time in which `model` gives every determinate reply? */
export function searchLinearization<Op extends SearchOperation>(ops: readonly Op[], model: SearchModel<Op>, limits: SearchLimits): SearchResult<Op> {
  const random = seededRandom(ZOBRIST_SEED);
  const zobrist = new Int32Array(ops.length * 3);
  for (let i = 0; i < zobrist.length; i++) zobrist[i] = Math.floor(random() * RANDOM_WORD) | 0;
  const linearized = new Uint8Array(ops.length);
  const cache = new ConfigurationCache(limits.maxConfigurations);
  const head = buildList(ops);
  const stack: Frame<Op>[] = [];
  let remaining = 0;
  for (const op of ops) if (op.determinate) remaining++;
  let state = model.initial;
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let steps = 0;
  let deepest: SearchResult<Op>["deepest"] = null;

  /** Linearizes `op` if its configuration is new; false if it was explored before. */
  const take = (op: Op, next: number, frame: Omit<Frame<Op>, "op" | "state">): boolean => {
    const z = op.index * 3;
    const n1 = h1 ^ zobrist[z]!;
    const n2 = h2 ^ zobrist[z + 1]!;
    const n3 = h3 ^ zobrist[z + 2]!;
    if (!cache.add(n1, n2, n3, next)) return false;
    stack.push({ op, state, ...frame });
    h1 = n1;
    h2 = n2;
    h3 = n3;
    state = next;
    linearized[op.index] = 1;
    if (frame.entry !== null) {
      lift(frame.entry);
      remaining--;
    }
    return true;
  };
  const result = (outcome: Outcome, reason?: string): SearchResult<Op> => ({ outcome, steps, configurations: cache.size, deepest, reason });

  try {
    cache.add(0, 0, 0, state);
    let entry = head.next;
    let optionalFrom = 0;
    for (;;) {
      if (remaining === 0) return result(Outcome.LINEARIZABLE);
      if (++steps > limits.maxSteps) return result(Outcome.UNKNOWN, `more than ${limits.maxSteps} search steps`);
      let dead = false;
      if (entry!.isCall && model.determinateMayStep?.(state) === false) entry = head.nextReturn; // no call here can step
      if (entry!.isCall) {
        const op = entry!.op!;
        const next = model.step(state, op);
        if (next >= 0) {
          const kept = next === state;
          if (take(op, next, { entry, kept, optionalIndex: -1, at: null })) {
            entry = head.next;
            optionalFrom = 0;
            continue;
          }
          dead = kept; // the same configuration was explored and failed: so does this one
        }
        if (!dead) {
          entry = entry!.next;
          continue;
        }
      } else {
        // A return: its operation was not linearized in time. First, an indeterminate operation
        // invoked before it may have taken effect here.
        const candidates = model.optional(state);
        let moved = false;
        for (let c = optionalFrom; c < candidates.length && !moved; c++) {
          const op = candidates[c]!;
          if (linearized[op.index] === 1 || op.call > entry!.time) continue;
          const next = model.step(state, op);
          if (next >= 0 && take(op, next, { entry: null, kept: false, optionalIndex: c, at: entry })) moved = true;
        }
        if (moved) {
          entry = head.next;
          optionalFrom = 0;
          continue;
        }
        const done = stack.length;
        if (deepest === null || done > deepest.linearized) deepest = { linearized: done, state, blocked: entry!.op! };
      }

      // Backtrack: undo the last choice (and the kept steps above it) and try what comes after it.
      for (;;) {
        const frame = stack.pop();
        if (frame === undefined) return result(Outcome.NOT_LINEARIZABLE);
        const z = frame.op.index * 3;
        h1 ^= zobrist[z]!;
        h2 ^= zobrist[z + 1]!;
        h3 ^= zobrist[z + 2]!;
        state = frame.state;
        linearized[frame.op.index] = 0;
        if (frame.entry !== null) {
          unlift(frame.entry);
          remaining++;
        }
        if (frame.kept) continue;
        if (frame.entry !== null) {
          entry = frame.entry.next;
          optionalFrom = 0;
        } else {
          entry = frame.at;
          optionalFrom = frame.optionalIndex + 1;
        }
        break;
      }
    }
  } catch (error) {
    if (error instanceof CacheFullError) return result(Outcome.UNKNOWN, error.message);
    throw error;
  }
}
