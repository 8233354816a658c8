// The SQLite store on a full disk, with a real one: a small tmpfs mounted by the test (it runs
// as root, here and in CI). Bids get UNAVAILABLE, never a crash; the cause is logged once;
// writes resume when space is back; SIGTERM exits with the cause; a start on the still-full
// disk names it too; every ACCEPTED bid survives all of it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Status } from "../../src/protocol/constants.ts";
import { allBids, Bidder } from "../support/bidder.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { logMessages } from "../support/log-lines.ts";

allowSlowTests();

/** Room for the database and a WAL of a few thousand bids, small enough to fill at once. */
const DISK_SIZE = "4m";
const FILL_CHUNK = 64 * 1024;
const FILL_TAIL_CHUNK = 512;
const BIDS_PER_ROUND = 100;
/** Bids a full disk must turn UNAVAILABLE within (the WAL's free pages are used up first). */
const MAX_ROUNDS_UNTIL_FULL = 200;

const mountPoint = mkdtempSync(join(tmpdir(), "gavel-full-disk-"));
const dbPath = join(mountPoint, "gavel.db");
const fillerPath = join(mountPoint, "filler");
const env = { GAVEL_STORE: "sqlite", GAVEL_DB: dbPath };
const running: GavelProcess[] = [];

function run(command: string[]): void {
  const result = Bun.spawnSync(command, { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")}: ${result.stderr.toString()}`);
}

beforeAll(() => run(["mount", "-t", "tmpfs", "-o", `size=${DISK_SIZE}`, "tmpfs", mountPoint]));
afterAll(async () => {
  for (const node of running) if (node.proc.exitCode === null) await node.kill("SIGKILL");
  run(["umount", mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

/** Writes a file until the disk has not one byte left. */
function fillDisk(): void {
  const fd = openSync(fillerPath, "a");
  try {
    for (const size of [FILL_CHUNK, FILL_TAIL_CHUNK, 1]) {
      const chunk = new Uint8Array(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function freeDisk(): void {
  rmSync(fillerPath, { force: true });
}

/**
 * Bids in rounds until a round ends with an UNAVAILABLE, so the store's last write failed; every
 * RESULT is kept by the bidder. Before each round the disk is filled again: SQLite may commit
 * into WAL space it already holds (after a checkpoint), so a full disk does not refuse every
 * write, and a write that fits is stored and ACCEPTED, as it should be.
 */
async function bidUntilFull(bidder: Bidder): Promise<void> {
  for (let round = 0; round < MAX_ROUNDS_UNTIL_FULL; round++) {
    fillDisk();
    const results = await bidder.send(BIDS_PER_ROUND);
    if (results.at(-1)?.status === Status.UNAVAILABLE) return;
  }
  throw new Error("the full disk never refused a bid");
}

/** Creates auctions (refilling the disk before each) until one is refused; returns that answer. */
async function createUntilRefused(httpUrl: string): Promise<Response> {
  for (let round = 0; round < MAX_ROUNDS_UNTIL_FULL; round++) {
    fillDisk();
    const response = await fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 60_000 }) });
    if (response.status !== 201) return response;
  }
  throw new Error("the full disk never refused a create");
}

async function start(): Promise<GavelProcess> {
  const node = await spawnGavel(env);
  running.push(node);
  return node;
}

describe("sqlite on a full disk", () => {
  test("UNAVAILABLE with the cause logged, writes resume, SIGTERM and the next start name the cause, no ACCEPTED bid lost", async () => {
    const node = await start();
    const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
    const auction = ((await created.json()) as { id: number }).id;
    const bidder = await Bidder.connect(node.port, auction);
    await bidder.send(BIDS_PER_ROUND);

    await bidUntilFull(bidder);
    // Still serving: bids are answered UNAVAILABLE, the admin API reads and refuses writes.
    expect((await fetch(`${node.httpUrl}/v1/auctions/${auction}`)).status).toBe(200);
    const refused = await createUntilRefused(node.httpUrl);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toContain("disk is full");
    // One line per run of failed writes (a write that fits in between ends a run), each naming
    // the file and the cause.
    const errorLines = logMessages(node.output()).filter((line) => line.startsWith("gavel: error:"));
    expect(errorLines.length).toBeGreaterThanOrEqual(1);
    for (const line of errorLines) {
      expect(line).toContain(dbPath);
      expect(line).toContain("disk is full");
    }

    // Space back: the same server takes writes again.
    freeDisk();
    expect(await bidder.one()).toBe(Status.ACCEPTED);
    expect(node.output()).toContain("takes writes again");

    // Full again, then SIGTERM: a clean exit that names the cause, not an uncaught error.
    await bidUntilFull(bidder);
    bidder.close();
    expect(await node.kill("SIGTERM")).not.toBe(0);
    expect(node.output()).toContain("gavel: error: stopped with the store failing");
    expect(node.output()).not.toMatch(/uncaught|SQLiteError|at .*\.ts:\d+/i);

    // A start on the still-full disk names the disk, not a symptom of it.
    const onFull = await start();
    const probe = await Bidder.connect(onFull.port, auction, 1_000_000);
    await bidUntilFull(probe);
    probe.close();
    expect(onFull.output()).toContain("database or disk is full");
    expect(await onFull.kill("SIGTERM")).not.toBe(0);
    expect(onFull.output()).not.toContain("cannot rollback");
    expect(onFull.output()).not.toMatch(/uncaught|SQLiteError|at .*\.ts:\d+/i);

    // Space back, a restart: every bid ever ACCEPTED is there.
    freeDisk();
    const after = await start();
    const stored = new Set((await allBids(after.httpUrl, auction)).map((b) => b.amount));
    const accepted = [...bidder.accepted(), ...probe.accepted()].map((r) => r.amount);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.filter((amount) => !stored.has(amount))).toEqual([]);
    expect(await after.kill("SIGTERM")).toBe(0);
  });
});
