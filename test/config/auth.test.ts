// The authentication settings: refused at start-up, naming the setting, when they cannot work.

import { describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { makeKeyPair, TEST_SECRET } from "../support/jwt.ts";
import { runGavelExpectingFailure } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const rsaPem = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }) as string;
const secp384Pem = generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ type: "spki", format: "pem" }) as string;

describe("authentication settings", () => {
  test("off by default", () => {
    expect(loadConfig({}).auth).toBeNull();
    expect(loadConfig({ GAVEL_AUTH: "off" }).auth).toBeNull();
  });

  test("a secret means HS256, a public key EdDSA or ES256 by its kind", () => {
    expect(loadConfig({ GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET }).auth?.algorithm).toBe("HS256");
    expect(loadConfig({ GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: makeKeyPair("EdDSA").publicPem }).auth?.algorithm).toBe("EdDSA");
    expect(loadConfig({ GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: makeKeyPair("ES256").publicPem }).auth?.algorithm).toBe("ES256");
    expect(loadConfig({}, ["--auth", "jwt", "--jwt-secret", TEST_SECRET]).auth?.algorithm).toBe("HS256");
  });

  const bad: [string, Record<string, string>, string][] = [
    ["an unknown mode", { GAVEL_AUTH: "oauth" }, "GAVEL_AUTH"],
    ["jwt without a key", { GAVEL_AUTH: "jwt" }, "GAVEL_JWT_SECRET"],
    ["a secret shorter than 32 bytes", { GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: "short" }, "GAVEL_JWT_SECRET"],
    ["both a secret and a public key", { GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET, GAVEL_JWT_PUBLIC_KEY: makeKeyPair("EdDSA").publicPem }, "GAVEL_JWT_PUBLIC_KEY"],
    ["a missing key file", { GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: "/nonexistent/key.pem" }, "GAVEL_JWT_PUBLIC_KEY"],
    ["a PEM that is no key", { GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n" }, "GAVEL_JWT_PUBLIC_KEY"],
    ["an RSA key", { GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: rsaPem }, "GAVEL_JWT_PUBLIC_KEY"],
    ["a P-384 key", { GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: secp384Pem }, "GAVEL_JWT_PUBLIC_KEY"],
    ["a secret while auth is off", { GAVEL_JWT_SECRET: TEST_SECRET }, "GAVEL_AUTH"],
    ["a public key while auth is off", { GAVEL_JWT_PUBLIC_KEY: makeKeyPair("ES256").publicPem }, "GAVEL_AUTH"],
  ];
  for (const [what, env, setting] of bad) {
    test(`refuses ${what}, naming ${setting}`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(`${setting}:`);
    });
  }

  test("a missing key file is named with its path", () => {
    expect(() => loadConfig({ GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: "/nonexistent/key.pem" })).toThrow("/nonexistent/key.pem");
  });

  test("the server process refuses to start, naming the setting", async () => {
    const missing = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_AUTH: "jwt" });
    expect(missing.code).toBe(2);
    expect(missing.output).toContain("GAVEL_JWT_SECRET");
    const unreadable = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: "/nonexistent/key.pem" });
    expect(unreadable.code).toBe(2);
    expect(unreadable.output).toContain("GAVEL_JWT_PUBLIC_KEY");
  });
});
