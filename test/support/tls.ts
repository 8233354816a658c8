// Test certificates from a real generator, the `openssl` CLI: a throwaway CA and a server
// certificate it signed for `localhost` and 127.0.0.1, P-256 keys, in a temp dir. Clients trust
// the server by passing the CA as `ca`. Tests never skip: without openssl they fail clearly.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The certificates outlive any test run; the CA a little longer than what it signs. */
const CA_VALID_DAYS = 2;
const SERVER_VALID_DAYS = 1;
/** ES256 keys: the curve every TLS client here speaks. */
const KEY_OPTIONS = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

/** What a TLS server certificate needs for clients to accept it on loopback. */
const SERVER_EXTENSIONS = [
  "basicConstraints = critical, CA:FALSE",
  "keyUsage = critical, digitalSignature",
  "extendedKeyUsage = serverAuth",
  "subjectAltName = DNS:localhost, IP:127.0.0.1",
].join("\n");

export interface TestCertificate {
  /** The CA's certificate (PEM): what a client passes as `ca` to trust the server. */
  ca: string;
  /**
   * The server's chain (PEM): its certificate, then the CA's, as GAVEL_TLS_CERT takes it. A
   * client given this as `ca` trusts the server too (the CA is in it).
   */
  cert: string;
  /** The server's private key (PKCS#8 PEM). */
  key: string;
  /** The same, written to files (for GAVEL_TLS_CERT / GAVEL_TLS_KEY). */
  caPath: string;
  certPath: string;
  keyPath: string;
  /** Removes the files. */
  dispose(): void;
}

function openssl(dir: string, args: string[]): void {
  const binary = Bun.which("openssl");
  if (binary === null) throw new Error("openssl is not on the PATH: the TLS tests need it (apt-get install openssl)");
  const run = Bun.spawnSync([binary, ...args], { cwd: dir, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed (exit ${run.exitCode}):\n${run.stderr.toString()}${run.stdout.toString()}`);
  }
}

/**
 * Makes a fresh CA and a server certificate it signed for localhost / 127.0.0.1, in a temp dir.
 * Call it once per test file (beforeAll): each call runs openssl four times.
 */
export function makeTestCertificate(commonName = "gavel-test"): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), "gavel-tls-"));
  try {
    openssl(dir, ["genpkey", ...KEY_OPTIONS, "-out", "ca-key.pem"]);
    openssl(dir, [
      "req", "-x509", "-new", "-key", "ca-key.pem", "-subj", `/CN=${commonName} CA`, "-days", String(CA_VALID_DAYS),
      "-addext", "basicConstraints = critical, CA:TRUE",
      "-addext", "keyUsage = critical, keyCertSign, cRLSign",
      "-out", "ca.pem",
    ]);
    openssl(dir, ["genpkey", ...KEY_OPTIONS, "-out", "key.pem"]);
    writeFileSync(join(dir, "server.ext"), `${SERVER_EXTENSIONS}\n`);
    openssl(dir, ["req", "-new", "-key", "key.pem", "-subj", `/CN=${commonName}`, "-out", "server.csr"]);
    // No -CAserial: OpenSSL 3 picks a random serial itself, DER-encoded correctly.
    openssl(dir, [
      "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-days", String(SERVER_VALID_DAYS),
      "-extfile", "server.ext", "-out", "server.pem",
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const cert = readFileSync(join(dir, "server.pem"), "utf8") + ca;
  const key = readFileSync(join(dir, "key.pem"), "utf8");
  const certPath = join(dir, "chain.pem");
  writeFileSync(certPath, cert);
  return {
    ca,
    cert,
    key,
    caPath: join(dir, "ca.pem"),
    certPath,
    keyPath: join(dir, "key.pem"),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
