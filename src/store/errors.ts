// Errors raised at the stores' edges (opening, connecting); the bid path uses status codes.

export class StoreError extends Error {
  override name = "StoreError";
}

/** Nothing was stored: the store was not asked (its circuit breaker is open) or refused the write. */
export class StoreUnavailableError extends StoreError {
  override name = "StoreUnavailableError";
}

/**
 * The store refuses writes for a reason an operator must fix (an eviction policy that can drop
 * Gavel's keys, a database file that was deleted). The message is Gavel's own, written for the
 * operator and safe to show to a client (no library internals, no secrets). Nothing was stored.
 */
export class StoreRefusedError extends StoreUnavailableError {
  override name = "StoreRefusedError";
}

/** No free auction id was found within the store's bounded search (ids are u32: 1 to 4294967295). */
export class IdsExhaustedError extends StoreRefusedError {
  override name = "IdsExhaustedError";
}
