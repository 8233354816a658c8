// AUTH tokens (docs/protocol.md, "Authentication"): a JWT signed with the configured key, whose
// `sub` is the user id as a decimal string and whose `exp` says until when the connection
// speaks for that user. Verified with jose; only the one algorithm the key is for is accepted,
// so a token cannot choose `none` or swap an HMAC for a public key.

import { errors, jwtVerify } from "jose";
import type { JwtAuth } from "../config.ts";

/** User ids are u32 and never 0. */
const MAX_USER = 0xffff_ffff;
/** Decimal, no sign, no leading zero, at most 10 digits (2^32-1 has 10). */
const USER_ID = /^[1-9][0-9]{0,9}$/;
const MS_PER_SECOND = 1000;

/** A verified token: the user it speaks for and until when (ms since the epoch). */
export interface Identity {
  user: number;
  expiresAt: number;
}

export type Verification = ({ ok: true } & Identity) | { ok: false; reason: string };

export class TokenVerifier {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true });

  constructor(private readonly auth: JwtAuth) {}

  /** Verifies the AUTH frame's token bytes; never rejects (a bad token is a `reason`). */
  async verifyBytes(bytes: Uint8Array, start: number, end: number): Promise<Verification> {
    let token: string;
    try {
      token = this.decoder.decode(bytes.subarray(start, end));
    } catch {
      return { ok: false, reason: "token is not UTF-8" };
    }
    return this.verify(token);
  }

  async verify(token: string): Promise<Verification> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.auth.key, { algorithms: [this.auth.algorithm], requiredClaims: ["sub", "exp"] }));
    } catch (error) {
      return { ok: false, reason: failureReason(error) };
    }
    const sub = payload.sub;
    const user = typeof sub === "string" && USER_ID.test(sub) ? Number(sub) : 0;
    if (user < 1 || user > MAX_USER) return { ok: false, reason: `sub must be a user id as a decimal string (1..${MAX_USER})` };
    return { ok: true, user, expiresAt: payload.exp! * MS_PER_SECOND };
  }
}

/** Says why a token was refused without echoing it. */
function failureReason(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "bad signature";
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not accepted";
  // jose's own wording, e.g. `missing required "exp" claim`; it never quotes the token.
  if (error instanceof errors.JWTClaimValidationFailed) return error.message;
  return "not a valid JWT";
}
