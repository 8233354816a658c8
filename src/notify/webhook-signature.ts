// The signature a receiver checks (docs/webhooks.md, "Verifying"): HMAC-SHA256 with the shared
// secret over `<timestamp>.<body>`, sent as `Gavel-Signature: t=<unix seconds>,v1=<hex>` the
// way Stripe signs its webhooks. The timestamp inside the signed text lets a receiver refuse a
// replayed request; the scheme name `v1` leaves room for a second one during a change.

import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "Gavel-Signature";
export const SIGNATURE_SCHEME = "v1";

/** The header's value for `body` sent at `timestampSeconds`. */
export function signatureHeader(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestampSeconds}.${body}`).digest("hex");
  return `t=${timestampSeconds},${SIGNATURE_SCHEME}=${mac}`;
}
