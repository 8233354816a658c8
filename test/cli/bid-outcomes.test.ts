// A script must tell "lost" from "try again" by the exit code alone: bids that cannot be decided
// now (rate limited; the store down) exit 4, with the status by name.

import { afterEach, describe, expect, test } from "bun:test";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { cliFor, show } from "./cli-runner.ts";

allowSlowTests();

/** CLI processes started at once against a limit of one bid a second (burst one). */
const PARALLEL_BIDS = 4;

const fixtures: GavelFixture[] = [];
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.dispose();
});

describe("bid exit codes for 'try again'", () => {
  test("RATE_LIMITED exits 4", async () => {
    const gavel = await startGavel("memory", { GAVEL_BID_RATE: "1", GAVEL_BID_BURST: "1" });
    fixtures.push(gavel);
    const { id } = await gavel.createAuction({ ends_at: Date.now() + 3_600_000 });
    const cli = cliFor(gavel);
    // One user, rising amounts, all at once: a bucket of one that refills once a second lets
    // through at most one per second, so however slow the machine, some are limited.
    const runs = await Promise.all(Array.from({ length: PARALLEL_BIDS }, (_, i) => cli("bid", String(id), "9", String(100 + i), "--json")));
    const outcomes = runs.map((run) => ({ code: run.code, status: run.json<{ status: string }>().status }));
    expect(outcomes.filter((o) => o.status === "RATE_LIMITED").length, JSON.stringify(outcomes)).toBeGreaterThan(0);
    for (const outcome of outcomes) expect(outcome.code, JSON.stringify(outcome)).toBe(outcome.status === "RATE_LIMITED" ? 4 : outcome.status === "ACCEPTED" ? 0 : 3);
  });

  test("Redis down: UNAVAILABLE (or UNCONFIRMED) exits 4, and the admin API's 503 exits 7", async () => {
    const gavel = await startGavel("redis");
    fixtures.push(gavel);
    const { id } = await gavel.createAuction({ ends_at: Date.now() + 3_600_000 });
    const cli = cliFor(gavel);
    const before = await cli("bid", String(id), "1", "100");
    expect(before.code, show(before)).toBe(0);

    await gavel.redis!.kill();
    const during = await cli("bid", String(id), "1", "200", "--json");
    expect(during.code, show(during)).toBe(4);
    expect(["UNAVAILABLE", "UNCONFIRMED"]).toContain(during.json<{ status: string }>().status);
    const text = await cli("bid", String(id), "1", "200");
    expect(text.code, show(text)).toBe(4);
    expect(text.stdout).toMatch(/^(UNAVAILABLE|UNCONFIRMED): .*resubmit the same bid/);

    const read = await cli("get", String(id));
    expect(read.code, show(read)).toBe(7);
    expect(read.stderr).toContain("503");
  });
});
