// Increment tables: the least step a bid must beat the current price by, by price band (eBay's
// bid-increment ladder; docs/auctions.md has an example). lua/bid.lua's inc() is the same rule.

import { MAX_AMOUNT } from "../protocol/constants.ts";
import type { AuctionState, IncrementRow } from "./auction.ts";

/** Rows one table may hold: a bound on what one admin request makes every bid scan. */
export const MAX_INCREMENT_ROWS = 64;

/**
 * The minimum increment at price `price`: the step of the last row whose `from` is <= price, or
 * the auction's fixed `minIncrement` when it has no table. Allocates nothing.
 */
export function incrementAt(auction: Pick<AuctionState, "minIncrement" | "increments">, price: number): number {
  const rows = auction.increments;
  if (rows === undefined || rows.length === 0) return auction.minIncrement;
  // Rows ascend by `from` and the first is 0: the answer is the last row not above the price.
  for (let i = rows.length - 1; i > 0; i--) {
    const row = rows[i]!;
    if (row.from <= price) return row.step;
  }
  return rows[0]!.step;
}

export type IncrementsParse = { ok: true; rows: IncrementRow[] } | { ok: false; error: string };

/**
 * Checks the admin API's `increments` field: a non-empty array of {from, step} in minor units,
 * the first `from` 0, `from` strictly ascending, every step >= 1 and never smaller than the row
 * before (a larger price never needs a smaller step). Each message names the row at fault.
 */
export function parseIncrements(value: unknown): IncrementsParse {
  const fail = (error: string): IncrementsParse => ({ ok: false, error });
  if (!Array.isArray(value)) return fail("increments must be an array of {\"from\", \"step\"} rows");
  if (value.length === 0) return fail("increments must have at least one row (or leave it out and use min_increment)");
  if (value.length > MAX_INCREMENT_ROWS) return fail(`increments must have at most ${MAX_INCREMENT_ROWS} rows`);
  const rows: IncrementRow[] = [];
  for (let i = 0; i < value.length; i++) {
    const row: unknown = value[i];
    const at = `increments[${i}]`;
    if (typeof row !== "object" || row === null || Array.isArray(row)) return fail(`${at} must be an object {"from", "step"}`);
    const { from, step, ...rest } = row as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return fail(`${at} has an unknown field ${JSON.stringify(extra)}: only "from" and "step"`);
    if (typeof from !== "number" || !Number.isInteger(from) || from < 0 || from > MAX_AMOUNT) return fail(`${at}.from must be a whole number between 0 and ${MAX_AMOUNT}`);
    if (typeof step !== "number" || !Number.isInteger(step) || step < 1 || step > MAX_AMOUNT) return fail(`${at}.step must be a whole number between 1 and ${MAX_AMOUNT}`);
    const previous = rows[i - 1];
    if (previous === undefined && from !== 0) return fail("increments[0].from must be 0 (the table must cover every price)");
    if (previous !== undefined && from <= previous.from) return fail(`${at}.from must be above increments[${i - 1}].from (rows ascend by from)`);
    if (previous !== undefined && step < previous.step) return fail(`${at}.step must not be below increments[${i - 1}].step (steps never shrink as prices rise)`);
    rows.push({ from, step });
  }
  return { ok: true, rows };
}
