// Secret fields in a log line's data: replaced at the top level and one level deep, without
// touching the caller's objects, and without copying a line that holds none.

import { describe, expect, test } from "bun:test";
import { SECRET_CENSOR, SECRET_FIELDS, withoutSecrets } from "../../src/log/secret-fields.ts";

describe("withoutSecrets", () => {
  test("replaces every secret field at the top level and one level deep", () => {
    for (const name of SECRET_FIELDS) {
      expect(withoutSecrets({ [name]: "s3cret", nested: { [name]: "s3cret", kept: 1 }, auction: 7 })).toEqual({
        [name]: SECRET_CENSOR,
        nested: { [name]: SECRET_CENSOR, kept: 1 },
        auction: 7,
      });
    }
  });

  test("leaves the caller's objects as they were", () => {
    const settings = { redisUrl: "redis://u:pw@h:1", port: 1 };
    const fields = { settings, password: "pw" };
    const clean = withoutSecrets(fields);
    expect(clean).toEqual({ settings: { redisUrl: SECRET_CENSOR, port: 1 }, password: SECRET_CENSOR });
    expect(fields).toEqual({ settings: { redisUrl: "redis://u:pw@h:1", port: 1 }, password: "pw" });
    expect(fields.settings).toBe(settings);
  });

  test("a line with no secret is not copied", () => {
    const fields = { event: "auction_closed", auction: 7, winner: 42, amount: 1500, detail: { seq: 3 } };
    expect(withoutSecrets(fields)).toBe(fields);
  });

  test("looks one level deep only, into any object but an array", () => {
    const fields = { deeper: { inner: { password: "pw" } }, list: [{ password: "pw" }] };
    expect(withoutSecrets(fields)).toBe(fields);
    const error = Object.assign(new Error("boom"), { token: "t" });
    const clean = withoutSecrets({ error }).error as Error & { token: string };
    expect(clean).toBeInstanceOf(Error);
    expect([clean.message, clean.stack, clean.token]).toEqual(["boom", error.stack, SECRET_CENSOR]);
    expect(error.token).toBe("t");
  });
});
