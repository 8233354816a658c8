// The SQLite file's schema version (PRAGMA user_version): set on a fresh file, and a file from a
// newer release is refused at start-up, naming both versions, without being changed.

import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/store/sqlite.ts";
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
}

describe("the SQLite schema version", () => {
  test("a fresh file gets this build's version; a newer one stops start-up naming both versions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-schema-"));
    dirs.push(dir);
    const path = join(dir, "gavel.db");
    const node = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: path });
    expect(await node.kill("SIGTERM")).toBe(0);
    expect(userVersion(path)).toBe(SCHEMA_VERSION);

    const db = new Database(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const refused = await runGavelExpectingFailure({ GAVEL_STORE: "sqlite", GAVEL_DB: path });
    expect(refused.code).toBe(1);
    expect(refused.output).toContain("gavel: cannot start:");
    expect(refused.output).toContain(`schema version is ${SCHEMA_VERSION + 1}, newer than this build's ${SCHEMA_VERSION}`);
    expect(userVersion(path)).toBe(SCHEMA_VERSION + 1);
  });
});
