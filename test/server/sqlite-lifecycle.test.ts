// The SQLite store's file over a server's life, with real processes: restart at once after
// kill -9 of `bun run start`'s process group, a hot backup started as its own server, two
// servers on one file, and the file deleted or replaced under a running server.

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Status } from "../../src/protocol/constants.ts";
import { allBids, Bidder } from "../support/bidder.ts";
import { runGavelExpectingFailure, spawnGavel, spawnGavelGroup, type GavelProcess } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { logMessages } from "../support/log-lines.ts";

allowSlowTests();

/** The store promises to notice a deleted or replaced file within this long. */
const NOTICE_WITHIN_MS = 1_000;

const dir = mkdtempSync(join(tmpdir(), "gavel-sqlite-life-"));
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups) cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function sqliteEnv(name: string): Record<string, string> {
  return { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, name) };
}

async function createAuction(node: { httpUrl: string }): Promise<number> {
  const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: number }).id;
}

async function serverPid(node: { httpUrl: string }): Promise<number> {
  return ((await (await fetch(`${node.httpUrl}/healthz`)).json()) as { pid: number }).pid;
}

/** Every ACCEPTED amount is in the auction's history as the node reads it. */
async function expectAllAccepted(node: { httpUrl: string }, auction: number, bidder: Bidder): Promise<void> {
  const stored = new Set((await allBids(node.httpUrl, auction)).map((b) => b.amount));
  const accepted = bidder.accepted().map((r) => r.amount);
  expect(accepted.length).toBeGreaterThan(0);
  expect(accepted.filter((amount) => !stored.has(amount))).toEqual([]);
}

describe("sqlite ownership", () => {
  test("after kill -9 of bun run start's process group, a start at once succeeds and keeps every ACCEPTED bid", async () => {
    const env = sqliteEnv("restart.db");
    const first = await spawnGavelGroup(env);
    cleanups.push(() => first.killGroup());
    const auction = await createAuction(first);
    const bidder = await Bidder.connect(first.port, auction);
    for (let round = 0; round < 10; round++) await bidder.send(200);
    // A burst still on its way when the group dies: some of it may be stored, unanswered.
    void bidder.send(200).catch(() => {});
    await Bun.sleep(1);
    first.killGroup("SIGKILL");

    // No waiting for anything to be reaped: the old server may still be a zombie.
    const second = await spawnGavelGroup(env);
    cleanups.push(() => second.killGroup());
    expect(bidder.accepted().length).toBeGreaterThanOrEqual(2000);
    await expectAllAccepted(second, auction, bidder);
    bidder.close();
    expect(await second.killServer("SIGTERM")).toBe(0);
  });

  test("a VACUUM INTO copy made while a server runs starts as its own server, beside it", async () => {
    const live = await spawnGavel(sqliteEnv("live.db"));
    cleanups.push(() => live.proc.kill("SIGKILL"));
    const auction = await createAuction(live);
    const bidder = await Bidder.connect(live.port, auction);
    await bidder.send(50);

    const copyPath = join(dir, "backup.db");
    const reader = new Database(join(dir, "live.db"), { readonly: true });
    reader.run("VACUUM INTO ?", [copyPath]);
    reader.close();
    const backup = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: copyPath });
    cleanups.push(() => backup.proc.kill("SIGKILL"));
    await expectAllAccepted(backup, auction, bidder);
    // Both serve, each its own file.
    expect(await bidder.one()).toBe(Status.ACCEPTED);
    bidder.close();
    expect(await backup.kill("SIGTERM")).toBe(0);
    expect(await live.kill("SIGTERM")).toBe(0);
  });

  test("a second live server on the same file exits non-zero, naming the first's pid", async () => {
    const env = sqliteEnv("two.db");
    const first = await spawnGavelGroup(env);
    cleanups.push(() => first.killGroup());
    const pid = await serverPid(first);
    const second = await runGavelExpectingFailure(env);
    expect(second.code).not.toBe(0);
    expect(second.output).toContain("GAVEL_DB");
    expect(second.output).toContain(`process ${pid} serves it`);
    expect(await first.killServer("SIGTERM")).toBe(0);
  });
});

/** Sends a bid every few ms until one is UNAVAILABLE; returns how long that took. */
async function bidUntilUnavailable(bidder: Bidder, limitMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    if ((await bidder.one()) === Status.UNAVAILABLE) return Date.now() - started;
    await Bun.sleep(20);
  }
  throw new Error(`bids still not UNAVAILABLE after ${limitMs} ms`);
}

/** What a running server says once its file is gone: bids, admin writes, log, a rival, exit. */
async function expectRefusingWrites(node: GavelProcess, env: Record<string, string>, bidder: Bidder, what: string): Promise<void> {
  expect(await bidUntilUnavailable(bidder, 5_000)).toBeLessThan(NOTICE_WITHIN_MS);
  expect(await bidder.one()).toBe(Status.UNAVAILABLE);
  const create = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 60_000 }) });
  expect(create.status).toBe(503);
  expect(((await create.json()) as { error: string }).error).toContain(what);
  const errorLines = logMessages(node.output()).filter((line) => line.startsWith("gavel: error:"));
  expect(errorLines.length).toBe(1);
  expect(errorLines[0]).toContain(env.GAVEL_DB!);
  expect(errorLines[0]).toContain(what);
  // The lock is on a file beside the database: a second server is still refused.
  const rival = await runGavelExpectingFailure(env);
  expect(rival.code).not.toBe(0);
  expect(rival.output).toContain(`process ${node.proc.pid} serves it`);
  // Stopping says why, and is not an exit 0.
  const code = await node.kill("SIGTERM");
  expect(code).not.toBe(0);
  expect(node.output()).toContain(`gavel: error: stopped with the store failing`);
  expect(node.output()).not.toMatch(/uncaught|ENOENT|at .*\.ts:\d+/i);
}

describe("the sqlite file deleted or replaced under a running server", () => {
  test("deleted: within a second bids are UNAVAILABLE and writes 503; a rescue copy holds every ACCEPTED bid", async () => {
    const env = sqliteEnv("deleted.db");
    const node = await spawnGavel(env);
    cleanups.push(() => node.proc.kill("SIGKILL"));
    const auction = await createAuction(node);
    const bidder = await Bidder.connect(node.port, auction);
    await bidder.send(100);
    rmSync(env.GAVEL_DB!);
    await expectRefusingWrites(node, env, bidder, "was deleted");
    bidder.close();

    // Nothing acknowledged is lost: the copy written when it was noticed has it all.
    const rescued = readdirSync(dir).filter((name) => name.startsWith("deleted.db.rescued-"));
    expect(rescued.length).toBe(1);
    expect(node.output()).toContain(rescued[0]!);
    const restored = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, rescued[0]!) });
    cleanups.push(() => restored.proc.kill("SIGKILL"));
    await expectAllAccepted(restored, auction, bidder);
    expect(await restored.kill("SIGTERM")).toBe(0);
  });

  test("replaced (another file renamed over it): the same, and the new file is left as it is", async () => {
    const env = sqliteEnv("replaced.db");
    const node = await spawnGavel(env);
    cleanups.push(() => node.proc.kill("SIGKILL"));
    const auction = await createAuction(node);
    const bidder = await Bidder.connect(node.port, auction);
    await bidder.send(100);
    const other = join(dir, "other.db");
    writeFileSync(other, "not this server's database");
    renameSync(other, env.GAVEL_DB!);
    await expectRefusingWrites(node, env, bidder, "was replaced by another file");
    bidder.close();
    expect(readFileSync(env.GAVEL_DB!, "utf8")).toBe("not this server's database");
    expect(existsSync(`${env.GAVEL_DB}-wal`)).toBe(true);
  });

  test("its lock file deleted: writes stop too, so a second server that takes a new lock is the only writer", async () => {
    const env = sqliteEnv("unlocked.db");
    const node = await spawnGavel(env);
    cleanups.push(() => node.proc.kill("SIGKILL"));
    const auction = await createAuction(node);
    const bidder = await Bidder.connect(node.port, auction);
    await bidder.send(20);
    rmSync(`${env.GAVEL_DB}.lock`);
    expect(await bidUntilUnavailable(bidder, 5_000)).toBeLessThan(NOTICE_WITHIN_MS);
    expect(node.output()).toContain("its lock file");
    const next = await spawnGavel(env);
    cleanups.push(() => next.proc.kill("SIGKILL"));
    await expectAllAccepted(next, auction, bidder);
    bidder.close();
    expect(await node.kill("SIGTERM")).not.toBe(0);
    expect(await next.kill("SIGTERM")).toBe(0);
  });
});
