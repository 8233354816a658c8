// `gavel watch` follows an auction that gets bids and closes: STATE, the UPDATEs in seq order,
// the CLOSED, then exit 0; as JSON, as plain lines, redrawn on a terminal, and across a restart
// of the server (the SDK reconnects and resumes).

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GavelClient, Status } from "../../src/client/index.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { cliFor, closedPort, show, startCli, type RunningCli } from "./cli-runner.ts";

allowSlowTests();

interface WatchEvent {
  event: string;
  phase?: string;
  seq?: number;
  amount?: number;
  leader?: number;
  winner?: number;
  title?: string;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(): Promise<TestServer> {
  const started = await startTestServer({ store: "memory" });
  cleanups.push(() => started.stop());
  return started;
}

async function client(port: number, reconnect = false): Promise<GavelClient> {
  const connected = await GavelClient.connect({ port, reconnect });
  cleanups.push(() => connected.close());
  return connected;
}

function watch(target: { httpUrl: string; port: number }, ...args: string[]): RunningCli {
  const running = startCli(["--http", target.httpUrl, "--server", `127.0.0.1:${target.port}`, "watch", ...args]);
  cleanups.push(() => running.kill());
  return running;
}

/**
 * An auction made by the CLI to end in 2 s, with two bids before the watch starts and a third
 * once it has its state (if it is still open by then on a loaded machine).
 */
async function biddingAuction(target: TestServer, bidder: GavelClient) {
  const created = await cliFor(target)("create", "--json", "--title", "Clock", "--ends-in", "2s");
  expect(created.code, show(created)).toBe(0);
  const id = created.json<{ id: number }>().id;
  expect((await bidder.bid(id, 1, 100)).status).toBe(Status.ACCEPTED);
  expect((await bidder.bid(id, 2, 200)).status).toBe(Status.ACCEPTED);
  return id;
}

describe("gavel watch", () => {
  test("--json: state, every update in seq order, closed, exit 0", async () => {
    const target = await server();
    const bidder = await client(target.port);
    const id = await biddingAuction(target, bidder);
    const watching = watch(target, String(id), "--json");
    const state = JSON.parse(await watching.waitForLine((line) => line.includes('"state"'))) as WatchEvent;
    const third = state.phase === "open" ? await bidder.bid(id, 3, 300) : null;
    expect(await watching.exited, watching.stderr()).toBe(0);

    const events = watching.lines.map((line) => JSON.parse(line) as WatchEvent);
    expect(events[0]).toMatchObject({ event: "state", title: "Clock" });
    expect(["open", "closed"]).toContain(events[0]!.phase!);
    const updates = events.filter((e) => e.event === "update");
    const expected = third?.status === Status.ACCEPTED ? 3 : 2;
    expect(updates.map((u) => [u.seq, u.amount, u.leader])).toEqual([[1, 100, 1], [2, 200, 2], [3, 300, 3]].slice(0, expected));
    expect(events.at(-1)).toEqual({ event: "closed", auction: id, seq: expected, winner: expected, amount: expected * 100 } as WatchEvent);
    expect(events).toHaveLength(expected + 2);
  });

  test("plain lines when stdout is not a terminal", async () => {
    const target = await server();
    const bidder = await client(target.port);
    const id = await biddingAuction(target, bidder);
    const watching = watch(target, String(id));
    expect(await watching.exited, watching.stderr()).toBe(0);
    expect(watching.lines[0]).toMatch(new RegExp(`^auction ${id} "Clock": (open|closed), price 200, leader 2, 2 bids, ends `));
    expect(watching.lines).toContain("#1: 100 by 1, ends " + watching.lines[1]!.split("ends ")[1]);
    expect(watching.lines.at(-1)).toBe("closed: sold to 2 for 200 after 2 bids");
    expect(watching.lines.join("\n")).not.toContain("\x1b[");
  });

  test("on a terminal the view is redrawn in place, with a countdown", async () => {
    const target = await server();
    const bidder = await client(target.port);
    const id = await biddingAuction(target, bidder);
    const command = `bun run src/cli/main.ts --http ${target.httpUrl} --server 127.0.0.1:${target.port} watch ${id}`;
    // script(1) gives the CLI a pseudo-terminal; its output is what a user would see.
    const running = startCli(["-qec", command, "/dev/null"], { command: ["script"] });
    cleanups.push(() => running.kill());
    expect(await running.exited, running.stderr()).toBe(0);
    const screen = running.lines.join("\n");
    expect(screen).toContain("Clock  (auction");
    expect(screen).toMatch(/\x1b\[\d+F\x1b\[0J/); // cursor up and clear: redrawn in place
    expect(screen).toContain("closed: sold to 2 for 200 after 2 bids");
    expect(screen).toContain("#2  200  by 2");
  });

  test("an unknown auction: exit 6", async () => {
    const target = await server();
    const watching = watch(target, "424242");
    expect(await watching.exited).toBe(6);
    expect(watching.stderr()).toContain("no auction 424242");
  });

  test("reconnects across a server restart and resumes where it left off", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gavel-watch-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db"), GAVEL_PORT: String(closedPort()), GAVEL_HTTP_PORT: String(closedPort()) };
    let node: GavelProcess = await spawnGavel(env);
    cleanups.push(() => node.kill("SIGKILL"));
    const cli = cliFor(node);
    const id = (await cli("create", "--json", "--ends-in", "10m")).json<{ id: number }>().id;
    expect((await cli("bid", String(id), "1", "100")).code).toBe(0);

    const watching = watch(node, String(id), "--json");
    await watching.waitForLine((line) => line.includes('"state"'));
    expect(await node.kill("SIGTERM")).toBe(0);
    await watching.waitForLine((line) => line.includes('"disconnected"'));
    node = await spawnGavel(env);
    await watching.waitForLine((line) => line.includes('"reconnected"'));
    expect((await cli("bid", String(id), "2", "200")).code).toBe(0);
    await watching.waitForLine((line) => line.includes('"update"') && line.includes('"seq":2'));
    expect((await cli("cancel", String(id))).code).toBe(0);
    expect(await watching.exited, watching.stderr()).toBe(0);

    const events = watching.lines.map((line) => JSON.parse(line) as WatchEvent);
    expect(events.map((e) => e.event)).toEqual(["state", "update", "disconnected", "reconnected", "update", "closed"]);
    expect(events.filter((e) => e.event === "update").map((e) => e.seq)).toEqual([1, 2]);
    expect(events.at(-1)).toMatchObject({ event: "closed", winner: 0 });
  });
});
