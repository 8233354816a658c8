// A self-signed TLS certificate made at test time with node:crypto alone (no openssl binary):
// a P-256 key and a minimal X.509 v3 certificate, DER-encoded by hand, valid for `localhost`
// and 127.0.0.1. The certificate is its own CA, so clients trust it by passing it as `ca`.

import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** DER tags (X.690). */
const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  UTC_TIME: 0x17,
  SEQUENCE: 0x30,
  SET: 0x31,
  /** [0] EXPLICIT, constructed: the certificate's version. */
  CONTEXT_0: 0xa0,
  /** [3] EXPLICIT, constructed: the certificate's extensions. */
  CONTEXT_3: 0xa3,
  /** GeneralName [2] IMPLICIT IA5String: dNSName. */
  SAN_DNS: 0x82,
  /** GeneralName [7] IMPLICIT OCTET STRING: iPAddress. */
  SAN_IP: 0x87,
} as const;

const Oid = {
  ECDSA_WITH_SHA256: "1.2.840.10045.4.3.2",
  COMMON_NAME: "2.5.4.3",
  BASIC_CONSTRAINTS: "2.5.29.19",
  SUBJECT_ALT_NAME: "2.5.29.17",
} as const;

/** X.509 version field value for v3. */
const X509_V3 = 2;
const SERIAL_BYTES = 8;
const HOUR_MS = 3_600_000;
const VALID_FOR_MS = 24 * HOUR_MS;
const DER_TRUE = 0xff;

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Uint8Array.of(tag, ...length), body]);
}

function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a! + b!];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(Tag.OID, Uint8Array.from(bytes));
}

function utcTime(ms: number): Uint8Array {
  const iso = new Date(ms).toISOString(); // 2026-01-02T03:04:05.678Z
  const text = iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + "Z";
  return der(Tag.UTC_TIME, Buffer.from(text, "ascii"));
}

function name(commonName: string): Uint8Array {
  return der(Tag.SEQUENCE, der(Tag.SET, der(Tag.SEQUENCE, oid(Oid.COMMON_NAME), der(Tag.UTF8_STRING, Buffer.from(commonName)))));
}

function pem(label: string, body: Uint8Array): string {
  const lines = Buffer.from(body).toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

export interface TestCertificate {
  /** PEM texts. */
  cert: string;
  key: string;
  /** The same, written to files (for GAVEL_TLS_CERT / GAVEL_TLS_KEY). */
  certPath: string;
  keyPath: string;
  /** Removes the files. */
  dispose(): void;
}

/** Makes a fresh self-signed certificate for localhost / 127.0.0.1 and writes it to a temp dir. */
export function makeTestCertificate(commonName = "gavel-test"): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const serial = randomBytes(SERIAL_BYTES);
  serial[0]! &= 0x7f; // a positive INTEGER
  const now = Date.now();
  const algorithm = der(Tag.SEQUENCE, oid(Oid.ECDSA_WITH_SHA256));
  const subjectAltName = der(
    Tag.SEQUENCE,
    der(Tag.SAN_DNS, Buffer.from("localhost", "ascii")),
    der(Tag.SAN_IP, Uint8Array.of(127, 0, 0, 1)),
  );
  const extensions = der(
    Tag.CONTEXT_3,
    der(
      Tag.SEQUENCE,
      der(Tag.SEQUENCE, oid(Oid.BASIC_CONSTRAINTS), der(Tag.BOOLEAN, Uint8Array.of(DER_TRUE)), der(Tag.OCTET_STRING, der(Tag.SEQUENCE, der(Tag.BOOLEAN, Uint8Array.of(DER_TRUE))))),
      der(Tag.SEQUENCE, oid(Oid.SUBJECT_ALT_NAME), der(Tag.OCTET_STRING, subjectAltName)),
    ),
  );
  const tbs = der(
    Tag.SEQUENCE,
    der(Tag.CONTEXT_0, der(Tag.INTEGER, Uint8Array.of(X509_V3))),
    der(Tag.INTEGER, serial),
    algorithm,
    name(commonName),
    der(Tag.SEQUENCE, utcTime(now - HOUR_MS), utcTime(now + VALID_FOR_MS)),
    name(commonName),
    publicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = sign("sha256", tbs, privateKey); // ECDSA, DER-encoded (r, s)
  const certificate = der(Tag.SEQUENCE, tbs, algorithm, der(Tag.BIT_STRING, Uint8Array.of(0), signature));

  const cert = pem("CERTIFICATE", certificate);
  const key = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const dir = mkdtempSync(join(tmpdir(), "gavel-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  writeFileSync(certPath, cert);
  writeFileSync(keyPath, key);
  return { cert, key, certPath, keyPath, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
