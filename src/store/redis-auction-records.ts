// An auction as Redis holds it (the hash written by lua/create.lua and lua/bid.lua, whose
// fields lua/bid.lua documents): which fields a read asks for (one HMGET, or many through
// lua/read-auctions.lua), and the auction made of their values.

import type { AuctionState, IncrementRow } from "../auction/auction.ts";

/** The hash fields an AuctionState is made of, in the order {@link auctionFromFields} reads them. */
export const AUCTION_FIELDS = ["ti", "sp", "mi", "rs", "bn", "st", "en", "as", "mx", "sq", "am", "ld", "tp", "cl", "wn", "ic"] as const;

/** A field's value: absent is false in read-auctions.lua's JSON, null in an HMGET reply. */
export type FieldValue = string | false | null;

/**
 * The auction `id` from its hash's values of {@link AUCTION_FIELDS}, in that order; null when
 * it has no starting price (never created, or deleted).
 */
export function auctionFromFields(id: number, values: readonly FieldValue[]): AuctionState | null {
  const [ti, sp, mi, rs, bn, st, en, as, mx, sq, am, ld, tp, cl, wn, ic] = values;
  if (typeof sp !== "string") return null;
  const amount = Number(am);
  const auction: AuctionState = {
    id,
    title: ti || "",
    startingPrice: Number(sp),
    minIncrement: Number(mi),
    reserve: Number(rs),
    buyNowPrice: Number(bn),
    startsAt: Number(st),
    endsAt: Number(en),
    antiSnipeMs: Number(as),
    maxEndsAt: Number(mx),
    seq: Number(sq),
    amount,
    leader: Number(ld),
    closed: cl === "1",
    winner: Number(wn),
    // tp: the leader's hidden maximum; absent on auctions from before proxy bidding (the amount).
    top: typeof tp === "string" ? Number(tp) : amount,
  };
  if (ic) auction.increments = JSON.parse(ic) as IncrementRow[];
  return auction;
}
