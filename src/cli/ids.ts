// Auction and user ids and amounts as the command line gives them; the contract's bounds.

import { parseWholeNumber } from "./args.ts";

/** Ids are u32 on the wire; 0 means "none". */
export const MAX_ID = 0xffff_ffff;
/** Amounts travel as u64 but must be exact JS numbers (docs/protocol.md). */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;

export function parseId(text: string, what: string): number {
  return parseWholeNumber(text, what, 1, MAX_ID);
}

/** An amount in minor units (cents). */
export function parseAmount(text: string, what: string, min = 1): number {
  return parseWholeNumber(text, what, min, MAX_AMOUNT);
}
