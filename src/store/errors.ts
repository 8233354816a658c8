// Errors raised at the stores' edges (opening, connecting); the bid path uses status codes.

export class StoreError extends Error {
  override name = "StoreError";
}

/** The store is not being asked: its circuit breaker is open after repeated failures. */
export class StoreUnavailableError extends StoreError {
  override name = "StoreUnavailableError";
}

/** Every auction id the admin API may hand out (1..2^32-1) is taken. */
export class AuctionIdsExhaustedError extends StoreError {
  override name = "AuctionIdsExhaustedError";
}
