// Errors raised at the stores' edges (opening, connecting), and the two ways a batch of bids can
// fail; the bid path itself uses status codes. The drain answers a failed batch by class:
// StoreUnavailableError -> UNAVAILABLE (certainly nothing stored), anything else -> UNCONFIRMED.

export class StoreError extends Error {
  override name = "StoreError";
}

/**
 * The store was not asked, or refused before changing anything: nothing of the batch (or of the
 * shard group's call) was stored. Thrown only when that is certain: the circuit breaker is open
 * or suspects the store, the Redis connection was not writable so nothing was sent, a SQLite
 * transaction rolled back. Its bids are answered UNAVAILABLE.
 */
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

/**
 * The store may have been asked and did not answer: the call was sent (or may have been) and no
 * reply came in time, or the connection was lost after the write, or it answered with an error
 * after its script may have run. Its bids may or may not be stored; they are answered
 * UNCONFIRMED, which the client resolves by QUERY or by sending the same bid again.
 */
export class StoreUnconfirmedError extends StoreError {
  override name = "StoreUnconfirmedError";
}
