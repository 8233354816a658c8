// Errors raised at the stores' edges (opening, connecting); the bid path uses status codes.

export class StoreError extends Error {
  override name = "StoreError";
}
