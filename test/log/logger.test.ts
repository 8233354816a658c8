// The structured logger: JSON lines with level names and ISO times, secrets redacted, the
// level respected.

import { describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger } from "../../src/log/logger.ts";

function collector(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = "";
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, lines: () => text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("createLogger", () => {
  test("JSON lines: level by name, ISO time, msg and fields; secrets redacted at any depth", () => {
    const out = collector();
    const log = createLogger({ level: "info", format: "json", destination: out.stream });
    log.info({ auction: 7, winner: 42, amount: 1500 }, "auction closed");
    log.warn({ settings: { redisUrl: "redis://u:hunter2@h:1", adminToken: "t0ps3cret" }, password: "pw" }, "start");
    const [closed, start] = out.lines();
    expect(closed).toMatchObject({ level: "info", msg: "auction closed", auction: 7, winner: 42, amount: 1500, pid: process.pid });
    expect(Number.isNaN(Date.parse(String(closed!.time)))).toBe(false);
    expect(JSON.stringify(start)).not.toContain("hunter2");
    expect(JSON.stringify(start)).not.toContain("t0ps3cret");
    expect(start).toMatchObject({ level: "warn", password: "[redacted]" });
  });

  test("lines below the level are not written", () => {
    const out = collector();
    const log = createLogger({ level: "warn", format: "json", destination: out.stream });
    log.info("quiet");
    log.error("loud");
    expect(out.lines().map((l) => l.msg)).toEqual(["loud"]);
  });
});
