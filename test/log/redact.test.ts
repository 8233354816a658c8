// redact(): no password survives in text meant for people, in any form a Redis URL takes.

import { describe, expect, test } from "bun:test";
import { redact, REDACTED } from "../../src/log/redact.ts";

const SECRET = "hunter2";

describe("redact", () => {
  const cases: [string, string][] = [
    ["redis://:hunter2@127.0.0.1:6379", `redis://:${REDACTED}@127.0.0.1:6379`],
    ["redis://app:hunter2@cache:6379/0", `redis://app:${REDACTED}@cache:6379/0`],
    ["rediss://app:hunter2@cache:6380", `rediss://app:${REDACTED}@cache:6380`],
    ["redis://hunter2@cache:6379", `redis://${REDACTED}@cache:6379`],
    ["redis://cache:6379?password=hunter2&db=1", `redis://cache:6379?password=${REDACTED}&db=1`],
    ["rediss://cache:6380/?sentinelPassword=hunter2", `rediss://cache:6380/?sentinelPassword=${REDACTED}`],
    ["redis://:hunter2@with@cache:6379", `redis://:${REDACTED}@cache:6379`],
    ["cannot reach Redis at redis://app:hunter2@cache:6379 (timeout)", `cannot reach Redis at redis://app:${REDACTED}@cache:6379 (timeout)`],
    ['got "app:hunter2@cache:6379"', `got "app:${REDACTED}@cache:6379"`],
    ["app:hunter2@cache:6379", `app:${REDACTED}@cache:6379`],
    ["see redis://cache:6379?password=hunter2 now", `see redis://cache:6379?password=${REDACTED} now`],
  ];
  for (const [input, expected] of cases) {
    test(input, () => {
      expect(redact(input)).toBe(expected);
    });
  }

  test("a whole URL is parsed: a password with spaces in it goes too", () => {
    const out = redact("redis://app:hunt er2@cache:6379");
    expect(out).not.toContain("hunt");
    expect(out).toContain("cache:6379");
  });

  test("text without secrets is left alone", () => {
    for (const text of ["redis://127.0.0.1:6379", "store redis (redis://cache:6379/2)", "connect ECONNREFUSED 127.0.0.1:6379", "a@b c:d"]) {
      expect(redact(text)).toBe(text);
    }
  });

  test("no case above keeps the secret", () => {
    for (const [input] of cases) expect(redact(input)).not.toContain(SECRET);
  });
});
