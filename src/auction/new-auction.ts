// Validates the admin API's JSON for a new auction; every message names the field.

import { MAX_AMOUNT } from "../protocol/constants.ts";
import type { AuctionSpec } from "./auction.ts";
import { parseIncrements } from "./increments.ts";

const MAX_ID = 0xffff_ffff;
const MAX_TITLE = 200;
/** starts_at as the stores read it: "when the store creates it", by the store's clock. */
export const START_AT_CREATION = 0;

export type ParseResult = { ok: true; spec: AuctionSpec } | { ok: false; error: string };

function wholeNumber(body: Record<string, unknown>, field: string, fallback: number | null, min: number, max: number): number | string {
  const value = body[field];
  if (value === undefined || value === null) {
    if (fallback === null) return `${field} is required`;
    return fallback;
  }
  if (typeof value !== "number" || !Number.isInteger(value)) return `${field} must be a whole number`;
  if (value < min || value > max) return `${field} must be between ${min} and ${max}`;
  return value;
}

/** Turns a POST /v1/auctions body into a spec, or names what is wrong. `now` fills starts_at. */
export function parseNewAuction(body: unknown, now: number): ParseResult {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, error: "body must be a JSON object" };
  const b = body as Record<string, unknown>;

  const fields = {
    id: wholeNumber(b, "id", 0, 1, MAX_ID),
    startingPrice: wholeNumber(b, "starting_price", 1, 1, MAX_AMOUNT),
    minIncrement: wholeNumber(b, "min_increment", 1, 1, MAX_AMOUNT),
    reserve: wholeNumber(b, "reserve", 0, 0, MAX_AMOUNT),
    buyNowPrice: wholeNumber(b, "buy_now_price", 0, 1, MAX_AMOUNT),
    // Omitted (or 0): the store fills in its own clock at creation, the clock bids are judged
    // by, so the auction is open to the very next bid.
    startsAt: wholeNumber(b, "starts_at", START_AT_CREATION, 0, MAX_AMOUNT),
    endsAt: wholeNumber(b, "ends_at", null, 1, MAX_AMOUNT),
    antiSnipeMs: wholeNumber(b, "anti_snipe_ms", 0, 0, MAX_AMOUNT),
    maxEndsAt: wholeNumber(b, "max_ends_at", 0, 1, MAX_AMOUNT),
  };
  for (const value of Object.values(fields)) if (typeof value === "string") return { ok: false, error: value };
  const spec = fields as { [K in keyof typeof fields]: number };

  const title = b.title ?? "";
  if (typeof title !== "string") return { ok: false, error: "title must be a string" };
  if (title.length > MAX_TITLE) return { ok: false, error: `title must be at most ${MAX_TITLE} characters` };

  if (spec.endsAt <= (spec.startsAt === START_AT_CREATION ? now : spec.startsAt)) return { ok: false, error: "ends_at must be after starts_at" };
  if (spec.maxEndsAt !== 0 && spec.maxEndsAt < spec.endsAt) return { ok: false, error: "max_ends_at must not be before ends_at" };
  if (spec.buyNowPrice !== 0 && spec.buyNowPrice < spec.startingPrice) {
    return { ok: false, error: "buy_now_price must not be below starting_price" };
  }
  // A buy-now below the reserve would close the auction with a sale the reserve then refuses.
  if (spec.buyNowPrice !== 0 && spec.buyNowPrice < spec.reserve) {
    return { ok: false, error: "buy_now_price must not be below reserve" };
  }
  // An increment table replaces the fixed increment (min_increment is then its first step).
  if (b.increments !== undefined && b.increments !== null) {
    if (b.min_increment !== undefined && b.min_increment !== null) return { ok: false, error: "give either min_increment or increments, not both" };
    const table = parseIncrements(b.increments);
    if (!table.ok) return table;
    return { ok: true, spec: { ...spec, minIncrement: table.rows[0]!.step, increments: table.rows, title } };
  }
  return { ok: true, spec: { ...spec, title } };
}
