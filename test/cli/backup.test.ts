// `gavel backup` while bids flow: a SQLite server process takes bids, the CLI copies its file
// (VACUUM INTO through its own read-only connection), and a second server started on the copy
// serves the auction with every bid acknowledged before the copy began, its history intact.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GavelClient, Status } from "../../src/client/index.ts";
import { spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { cliFor, runCli, show } from "./cli-runner.ts";

allowSlowTests();

/** Bids in flight at once from the streaming bidder. */
const PIPELINE = 16;
/** How long bids flow before the backup starts. */
const WARM_UP_MS = 300;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "gavel-backup-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("gavel backup", () => {
  test("a copy taken while bids flow starts as a server of its own, with the auction and its history", async () => {
    const dir = tempDir();
    const db = join(dir, "gavel.db");
    const node = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: db });
    cleanups.push(() => node.kill("SIGKILL"));
    const cli = cliFor(node);
    const id = (await cli("create", "--json", "--title", "Backed up", "--ends-in", "1h")).json<{ id: number }>().id;

    // One bidder streams rising bids until told to stop, counting what was ACCEPTED.
    const bidder = await GavelClient.connect({ port: node.port });
    cleanups.push(() => bidder.close());
    let amount = 0;
    let accepted = 0;
    let flowing = true;
    const stream = (async () => {
      while (flowing) {
        const batch = Array.from({ length: PIPELINE }, () => bidder.bid(id, 1 + (amount % 3), ++amount * 10));
        for (const result of await Promise.all(batch)) if (result.status === Status.ACCEPTED) accepted++;
      }
    })();
    await Bun.sleep(WARM_UP_MS);

    const copy = join(dir, "copy.db");
    const acceptedBeforeBackup = accepted;
    const backup = await runCli(["backup", copy, "--db", db, "--json"]);
    flowing = false;
    await stream;
    expect(backup.code, show(backup)).toBe(0);
    const report = backup.json<{ source: string; file: string; bytes: number; auctions: number; integrity: string }>();
    expect(report).toMatchObject({ source: db, file: copy, auctions: 1, integrity: "ok" });
    expect(report.bytes).toBeGreaterThan(0);
    expect(acceptedBeforeBackup).toBeGreaterThan(0);

    // The first server still runs: the copy must start beside it (another port, its own file).
    const second = await spawnGavel({ GAVEL_STORE: "sqlite", GAVEL_DB: copy });
    cleanups.push(() => second.kill("SIGKILL"));
    const fromCopy = cliFor(second);
    const auction = (await fromCopy("get", String(id), "--json")).json<{ title: string; seq: number; amount: number; phase: string }>();
    expect(auction.title).toBe("Backed up");
    expect(auction.phase).toBe("open");
    // Every bid acknowledged before the copy began is in it, and nothing that was not accepted.
    expect(auction.seq).toBeGreaterThanOrEqual(acceptedBeforeBackup);
    expect(auction.seq).toBeLessThanOrEqual(accepted);

    const history = (await fromCopy("bids", String(id), "--all", "--limit", "500", "--json")).json<{ bids: { seq: number; amount: number }[] }>().bids;
    expect(history).toHaveLength(auction.seq);
    expect(history.map((b) => b.seq)).toEqual(Array.from({ length: auction.seq }, (_, i) => auction.seq - i));
    expect(history.every((bid, i) => i === 0 || history[i - 1]!.amount > bid.amount)).toBe(true);
    expect(history[0]!.amount).toBe(auction.amount);

    // And the copy takes bids of its own, apart from the original.
    const next = await fromCopy("bid", String(id), "9", String(auction.amount + 1_000_000_000));
    expect(next.code, show(next)).toBe(0);
    expect(await second.kill("SIGTERM")).toBe(0);
    expect(await node.kill("SIGTERM")).toBe(0);
  });

  test("refuses to overwrite, a missing database, and a file that is not Gavel's", async () => {
    const dir = tempDir();
    const existing = join(dir, "existing.db");
    writeFileSync(existing, "keep me");
    const missingDb = await runCli(["backup", join(dir, "out.db"), "--db", join(dir, "none.db")]);
    expect(missingDb.code, show(missingDb)).toBe(1);
    expect(missingDb.stderr).toContain(`no database at ${join(dir, "none.db")}`);

    const overwrite = await runCli(["backup", existing, "--db", existing]);
    expect(overwrite.code).toBe(1);
    expect(overwrite.stderr).toContain(`${existing} already exists`);
    expect(await Bun.file(existing).text()).toBe("keep me");

    const notGavel = join(dir, "other.db");
    const sqlite = new (await import("bun:sqlite")).Database(notGavel);
    sqlite.exec("CREATE TABLE t (x)");
    sqlite.close();
    const wrong = await runCli(["backup", join(dir, "out.db"), "--db", notGavel]);
    expect(wrong.code, show(wrong)).toBe(1);
    expect(wrong.stderr).toContain("is not a Gavel database");

    const defaultDb = await runCli(["backup", join(dir, "out.db")], { env: { GAVEL_DB: join(dir, "env.db") } });
    expect(defaultDb.stderr).toContain(`no database at ${join(dir, "env.db")}`);
  });
});
