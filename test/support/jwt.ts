// Tokens for authentication tests: an HS256 secret and Ed25519 / P-256 key pairs made at test
// time, and a signer that can also make the bad tokens (expired, no exp, odd sub, wrong key).

import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";

/** A 32-byte HS256 secret (the minimum GAVEL_JWT_SECRET accepts). */
export const TEST_SECRET = "gavel-test-secret-0123456789abcdef";

export interface TestKeyPair {
  algorithm: "EdDSA" | "ES256";
  privateKey: KeyObject;
  /** SPKI PEM, as GAVEL_JWT_PUBLIC_KEY takes it. */
  publicPem: string;
}

export function makeKeyPair(algorithm: "EdDSA" | "ES256"): TestKeyPair {
  const { privateKey, publicKey } =
    algorithm === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { algorithm, privateKey, publicPem: publicKey.export({ type: "spki", format: "pem" }) as string };
}

export interface TokenClaims {
  /** The `sub` claim; a number is written as its decimal string. Undefined leaves it out. */
  sub?: string | number;
  /** `exp` in seconds since the epoch; null leaves it out. Default: an hour from now. */
  exp?: number | null;
  nbf?: number;
}

const HOUR_S = 3600;

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Signs a JWT with the HS256 test secret, or with `keys` when given. */
export async function makeToken(claims: TokenClaims, keys?: TestKeyPair, secret: string = TEST_SECRET): Promise<string> {
  const jwt = new SignJWT({});
  if (claims.sub !== undefined) jwt.setSubject(String(claims.sub));
  const exp = claims.exp === undefined ? nowSeconds() + HOUR_S : claims.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  if (keys === undefined) return jwt.setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(secret));
  return jwt.setProtectedHeader({ alg: keys.algorithm }).sign(keys.privateKey);
}

/** An unsigned token (`alg: none`): must never be accepted. */
export function unsignedToken(sub: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub: String(sub), exp: nowSeconds() + HOUR_S })}.`;
}
