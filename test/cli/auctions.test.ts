// The CLI drives an auction end to end against a real server (in this process, real sockets):
// create, bids with their statuses and exit codes, get, list with paging, the history, cancel;
// the same in --json, whose documents carry statuses and phases by name.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { cliFor, show } from "./cli-runner.ts";

allowSlowTests();

let server: TestServer;
let gavel: ReturnType<typeof cliFor>;

beforeAll(async () => {
  server = await startTestServer({ store: "sqlite" });
  gavel = cliFor(server);
});
afterAll(async () => {
  await server.stop();
});

describe("gavel against a running server", () => {
  test("an auction from create to cancel, in text", async () => {
    const created = await gavel("create", "--title", "Brass lamp", "--starting-price", "1000", "--min-increment", "50", "--reserve", "5000", "--ends-in", "1h", "--anti-snipe", "30s");
    expect(created.code, show(created)).toBe(0);
    const id = Number(/created auction (\d+)/.exec(created.stdout)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(created.stdout).toContain('"Brass lamp"');
    expect(created.stdout).toMatch(/reserve\s+5000/);
    expect(created.stdout).toMatch(/anti-snipe\s+30000 ms/);

    const first = await gavel("bid", String(id), "42", "1000");
    expect(first.code, show(first)).toBe(0);
    expect(first.stdout).toStartWith("ACCEPTED");
    expect(first.stdout).toContain("leader 42");

    const low = await gavel("bid", String(id), "43", "1020");
    expect(low.code, show(low)).toBe(3);
    expect(low.stdout).toStartWith("OUTBID");
    expect(low.stdout).toContain("price 1000, leader 42");

    const second = await gavel("bid", String(id), "43", "1500");
    expect(second.code, show(second)).toBe(0);
    expect(second.stdout).toStartWith("ACCEPTED");

    const got = await gavel("get", String(id));
    expect(got.code, show(got)).toBe(0);
    expect(got.stdout).toMatch(/phase\s+open/);
    expect(got.stdout).toMatch(/price\s+1500/);
    expect(got.stdout).toMatch(/leader\s+43/);
    expect(got.stdout).toMatch(/bids\s+2/);

    const bids = await gavel("bids", String(id));
    expect(bids.code, show(bids)).toBe(0);
    const rows = bids.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^SEQ\s+AMOUNT\s+USER\s+BY\s+AT$/);
    expect(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 4))).toEqual([
      ["2", "1500", "43", "bid"],
      ["1", "1000", "42", "bid"],
    ]);

    const cancelled = await gavel("cancel", String(id));
    expect(cancelled.code, show(cancelled)).toBe(0);
    expect(cancelled.stdout).toContain(`cancelled auction ${id}`);

    const late = await gavel("bid", String(id), "44", "9000");
    expect(late.code, show(late)).toBe(3);
    expect(late.stdout).toStartWith("CLOSED");

    const again = await gavel("cancel", String(id));
    expect(again.code, show(again)).toBe(6);
    expect(again.stderr).toContain("409");
    expect(again.stderr).toContain("already ended");
  });

  test("max-bid leaves a private maximum: it leads, answers a lower bid, and the history marks its steps", async () => {
    const created = await gavel("--json", "create", "--starting-price", "1000", "--min-increment", "50", "--ends-in", "1h");
    expect(created.code, show(created)).toBe(0);
    const id = String(created.json<{ id: number }>().id);

    const lead = await gavel("max-bid", id, "42", "5017");
    expect(lead.code, show(lead)).toBe(0);
    expect(lead.stdout).toStartWith("ACCEPTED: you lead");
    expect(lead.stdout).toContain("price 1000, leader 42");

    const answered = await gavel("bid", id, "43", "2000");
    expect(answered.code, show(answered)).toBe(3);
    expect(answered.stdout).toStartWith("OUTBID");
    expect(answered.stdout).toContain("price 2050, leader 42");

    const higher = await gavel("--json", "max-bid", id, "43", "9017");
    expect(higher.code, show(higher)).toBe(0);
    expect(higher.json()).toEqual({ status: "ACCEPTED", auction: Number(id), amount: 5067, leader: 43 });

    const table = await gavel("create", "--increments", "0:5,100:25", "--ends-in", "1h");
    expect(table.code, show(table)).toBe(0);
    expect(table.stdout).toMatch(/increments\s+5 from 0, 25 from 100/);
    const badTable = await gavel("create", "--increments", "0:5,50:2", "--ends-in", "1h");
    expect(badTable.code, show(badTable)).toBe(6);
    expect(badTable.stderr).toContain("increments[1].step must not be below increments[0].step");
    const unreadable = await gavel("create", "--increments", "0-5", "--ends-in", "1h");
    expect(unreadable.code, show(unreadable)).toBe(2);

    const low = await gavel("max-bid", id, "44", "3000");
    expect(low.code, show(low)).toBe(3);
    expect(low.stdout).toStartWith("OUTBID: not enough to lead");

    const bids = await gavel("bids", id);
    expect(bids.code, show(bids)).toBe(0);
    expect(bids.stdout.trim().split("\n").slice(1).map((row) => row.split(/\s+/).slice(0, 4))).toEqual([
      ["3", "5067", "43", "max"],
      ["2", "2050", "42", "max"],
      ["1", "1000", "42", "max"],
    ]);
    for (const run of [lead, answered, higher, low, bids]) {
      expect(run.stdout).not.toContain("5017");
      expect(run.stdout).not.toContain("9017");
    }
  });

  test("--json: every result is one document, with statuses and phases by name", async () => {
    const created = await gavel("--json", "create", "--title", "Vase", "--ends-at", String(Date.now() + 3_600_000), "--buy-now", "9000");
    expect(created.code, show(created)).toBe(0);
    const auction = created.json<{ id: number; phase: string; buy_now_price: number }>();
    expect(auction.phase).toBe("open");
    expect(auction.buy_now_price).toBe(9000);
    const id = String(auction.id);

    const results = [];
    for (const [user, amount] of [["7", "100"], ["8", "100"], ["8", "300"]] as const) {
      const run = await gavel("bid", id, user, amount, "--json");
      results.push({ code: run.code, ...run.json<{ status: string; amount: number; leader: number }>() });
    }
    expect(results).toEqual([
      { code: 0, status: "ACCEPTED", auction: auction.id, amount: 100, leader: 7 },
      { code: 3, status: "OUTBID", auction: auction.id, amount: 100, leader: 7 },
      { code: 0, status: "ACCEPTED", auction: auction.id, amount: 300, leader: 8 },
    ] as never);

    const got = (await gavel("get", id, "--json")).json<{ phase: string; amount: number; leader: number; seq: number }>();
    expect(got).toMatchObject({ phase: "open", amount: 300, leader: 8, seq: 2 });

    const bids = (await gavel("bids", id, "--json")).json<{ bids: { seq: number; amount: number; user: number; at: number }[]; next: null }>();
    expect(bids.bids.map((b) => [b.seq, b.amount, b.user])).toEqual([
      [2, 300, 8],
      [1, 100, 7],
    ]);
    expect(bids.bids.every((b) => typeof b.at === "number" && b.at > 0)).toBe(true);

    const cancelled = (await gavel("cancel", id, "--json")).json<{ phase: string }>();
    expect(cancelled.phase).toBe("closed");

    const unknown = await gavel("bid", "999999", "1", "100", "--json");
    expect(unknown.code).toBe(3);
    expect(unknown.json()).toMatchObject({ status: "UNKNOWN", auction: 999999 });

    const missing = await gavel("get", "999999", "--json");
    expect(missing.code).toBe(6);
    expect(missing.json()).toEqual({ error: "404: no auction 999999", exit_code: 6 });
  });

  test("a scheduled auction: NOT_STARTED, and list by phase", async () => {
    const created = await gavel("create", "--json", "--starts-at", "+1h", "--ends-in", "2h", "--title", "Later");
    expect(created.code, show(created)).toBe(0);
    const id = created.json<{ id: number; phase: string }>();
    expect(id.phase).toBe("scheduled");
    const early = await gavel("bid", String(id.id), "5", "10", "--json");
    expect(early.code).toBe(3);
    expect(early.json()).toMatchObject({ status: "NOT_STARTED" });
    const scheduled = (await gavel("list", "--phase", "scheduled", "--json")).json<{ auctions: { id: number }[] }>();
    expect(scheduled.auctions.map((a) => a.id)).toEqual([id.id]);
  });

  test("list pages by id and --all follows next", async () => {
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await server.createAuction({ title: `lot ${i}`, ends_at: Date.now() + 3_600_000 })).id);
    const everything = (await gavel("list", "--json", "--all", "--limit", "2")).json<{ auctions: { id: number }[]; next: string | null }>();
    const allIds = everything.auctions.map((a) => a.id);
    expect(allIds).toEqual([...allIds].sort((a, b) => a - b));
    expect(allIds).toEqual(expect.arrayContaining(ids));
    expect(everything.next).toBeNull();

    const page = (await gavel("list", "--json", "--limit", "2", "--after", String(ids[0]))).json<{ auctions: { id: number }[]; next: string | null }>();
    expect(page.auctions.map((a) => a.id)).toEqual([ids[1]!, ids[2]!]);
    expect(page.next).toContain(`after=${ids[2]}`);

    const text = await gavel("list", "--limit", "2", "--after", String(ids[0]));
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(/^ID\s+PHASE\s+PRICE\s+LEADER\s+BIDS\s+ENDS\s+TITLE/);
    expect(text.stdout).toContain("lot 1");
    expect(text.stdout).toContain(`more: gavel list --after ${ids[2]}`);

    const open = (await gavel("list", "--json", "--all", "--phase", "open")).json<{ auctions: { phase: string }[] }>();
    expect(open.auctions.length).toBeGreaterThanOrEqual(5);
    expect(open.auctions.every((a) => a.phase === "open")).toBe(true);
  });
});
