// The admin API's bearer token (GAVEL_ADMIN_TOKEN), checked in constant time.

import { createHash, timingSafeEqual } from "node:crypto";

const BEARER = "Bearer ";

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Checks `Authorization: Bearer <token>` headers. Both sides are hashed first: the digests have
 * one length whatever was sent, so timingSafeEqual never throws and the time taken says nothing
 * about the token, not even its length.
 * @example
 * const token = new AdminToken("s3cret");
 * token.allows(request.headers.get("authorization")); // true for "Bearer s3cret"
 */
export class AdminToken {
  private readonly expected: Buffer | null;

  /** An empty token turns the check off: every request is allowed. */
  constructor(token: string) {
    this.expected = token === "" ? null : sha256(BEARER + token);
  }

  /** True when no token is configured or the header carries it. */
  allows(authorization: string | null): boolean {
    if (this.expected === null) return true;
    return timingSafeEqual(sha256(authorization ?? ""), this.expected);
  }
}
