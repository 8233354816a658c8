// Errors raised at the stores' edges (opening, connecting); the bid path uses status codes.

export class StoreError extends Error {
  override name = "StoreError";
}

/** The store is not being asked: its circuit breaker is open after repeated failures. */
export class StoreUnavailableError extends StoreError {
  override name = "StoreUnavailableError";
}

/** No free auction id was found within the store's bounded search (ids are u32: 1 to 4294967295). */
export class IdsExhaustedError extends StoreError {
  override name = "IdsExhaustedError";
}
