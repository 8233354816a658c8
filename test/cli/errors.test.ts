// What the CLI says when things go wrong: an unreachable server names the address and what to
// check, a bad command line names the problem and the usage line and sends nothing, the API's
// refusals come with its text; --help, --version and the ways to run it.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";
import { CLI_MAIN, cliFor, closedPort, runCli, show } from "./cli-runner.ts";

allowSlowTests();

const TOKEN = "s3cret-admin-token";
let server: TestServer;
let gavel: ReturnType<typeof cliFor>;

beforeAll(async () => {
  server = await startTestServer({ store: "memory", env: { GAVEL_ADMIN_TOKEN: TOKEN } });
  gavel = cliFor(server, { GAVEL_ADMIN_TOKEN: TOKEN });
});
afterAll(async () => {
  await server.stop();
});

describe("an unreachable server", () => {
  test("admin commands name the URL and what to check, exit 5", async () => {
    const port = closedPort();
    const run = await runCli(["get", "1", "--http", `http://127.0.0.1:${port}`]);
    expect(run.code, show(run)).toBe(5);
    expect(run.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}`);
    expect(run.stderr).toContain("Is the server running");
    expect(run.stderr).toContain("GAVEL_HTTP_PORT");
    expect(run.stdout).toBe("");
  });

  test("bid, ping and watch name the bid address, exit 5; --json adds an error document", async () => {
    const address = `127.0.0.1:${closedPort()}`;
    for (const args of [["bid", "1", "2", "300"], ["ping"], ["watch", "1", "--http", `http://127.0.0.1:${closedPort()}`]]) {
      const run = await runCli([...args, "--server", address]);
      expect(run.code, show(run)).toBe(5);
      expect(run.stderr).toContain(`cannot connect to the bid port at ${address}`);
      expect(run.stderr).toContain("GAVEL_PORT");
    }
    const json = await runCli(["bid", "1", "2", "300", "--server", address, "--json"]);
    expect(json.code).toBe(5);
    expect(json.json<{ error: string; exit_code: number }>()).toMatchObject({ exit_code: 5 });
    expect(json.json<{ error: string }>().error).toContain(address);
  });
});

describe("bad arguments: the problem and the usage line, exit 2, nothing sent", () => {
  const cases: [string[], string, string][] = [
    [["crate"], 'unknown command "crate" (did you mean create?)', "usage: gavel <command>"],
    [[], "no command given", "usage: gavel <command>"],
    [["create", "--title", "x"], "give one of --ends-in or --ends-at", "usage: gavel create [flags]"],
    [["create", "--ends-in", "10x"], '--ends-in must be a duration such as 30s, 10m, 2h or 1d, not "10x"', "usage: gavel create"],
    [["create", "--ends-in", "1h", "--ends-at", "+2h"], "give one of --ends-in or --ends-at", "usage: gavel create"],
    [["create", "--ends-at", "tomorrow"], "--ends-at must be ms since the epoch, an ISO-8601 time", "usage: gavel create"],
    [["create", "--ends-in", "1h", "--reserve", "-5"], '--reserve must be a whole number, not "-5"', "usage: gavel create"],
    [["create", "--ends-in", "1h", "--titel", "x"], "unknown flag --titel (did you mean --title?)", "usage: gavel create"],
    [["create", "--ends-in"], "--ends-in needs a value (DURATION)", "usage: gavel create"],
    [["bid", "1", "2"], "bid needs <amount>", "usage: gavel bid <auction> <user> <amount> [flags]"],
    [["bid", "1", "2", "3", "4"], 'bid takes <auction> <user> <amount>; unexpected "4"', "usage: gavel bid"],
    [["bid", "1", "2", "0"], "<amount> must be between 1 and", "usage: gavel bid"],
    [["bid", "x", "2", "3"], '<auction> must be a whole number, not "x"', "usage: gavel bid"],
    [["get", "4294967296"], "<auction> must be between 1 and 4294967295", "usage: gavel get"],
    [["list", "--phase", "ended"], '--phase must be one of open, scheduled, closed, not "ended"', "usage: gavel list"],
    [["list", "--limit", "501"], "--limit must be between 1 and 500", "usage: gavel list"],
    [["list", "--json", "--json"], "--json is given twice", "usage: gavel list"],
    [["ping", "--server", "localhost"], '--server must be HOST:PORT such as 127.0.0.1:7400, not "localhost"', "usage: gavel ping"],
    [["get", "1", "--http", "localhost:7401"], "--http must be an http:// or https:// URL", "usage: gavel get"],
    [["ping", "--tls=yes"], "--tls takes no value", "usage: gavel ping"],
  ];
  for (const [args, message, usage] of cases) {
    test(`gavel ${args.join(" ") || "(nothing)"}`, async () => {
      // Cases about --server and --http give their own.
      const run = args.includes("--server") || args.includes("--http") ? await runCli(args) : await gavel(...args);
      expect(run.code, show(run)).toBe(2);
      expect(run.stderr).toContain(`gavel: ${message}`);
      expect(run.stderr).toContain(usage);
    });
  }

  test("a refused create sent nothing: no auction was made", async () => {
    const before = (await gavel("list", "--json", "--all")).json<{ auctions: unknown[] }>().auctions.length;
    await gavel("create", "--ends-in", "1h", "--titel", "x");
    await gavel("create", "--ends-in", "1h", "--reserve", "-5");
    expect((await gavel("list", "--json", "--all")).json<{ auctions: unknown[] }>().auctions).toHaveLength(before);
  });
});

describe("the API's refusals", () => {
  test("without the admin token: 401 with a hint, exit 6; --token and GAVEL_ADMIN_TOKEN both work", async () => {
    const anonymous = cliFor(server);
    const refused = await anonymous("create", "--ends-in", "1h");
    expect(refused.code, show(refused)).toBe(6);
    expect(refused.stderr).toContain("401: missing or wrong admin token (pass --token or set GAVEL_ADMIN_TOKEN)");
    const withFlag = await anonymous("create", "--ends-in", "1h", "--token", TOKEN);
    expect(withFlag.code, show(withFlag)).toBe(0);
    const withEnv = await gavel("create", "--ends-in", "1h");
    expect(withEnv.code, show(withEnv)).toBe(0);
  });

  test("a field the server refuses: its error text, exit 6", async () => {
    const run = await gavel("create", "--ends-in", "1h", "--starting-price", "500", "--buy-now", "100");
    expect(run.code, show(run)).toBe(6);
    expect(run.stderr).toContain("400: buy_now_price must not be below starting_price");
    const taken = await gavel("create", "--ends-in", "1h", "--id", "777");
    expect(taken.code, show(taken)).toBe(0);
    const again = await gavel("create", "--ends-in", "1h", "--id", "777");
    expect(again.code).toBe(6);
    expect(again.stderr).toContain("409: auction 777 already exists");
  });

  test("an address that is not Gavel's admin API says so", async () => {
    const other = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("<html>hello</html>") });
    try {
      const run = await runCli(["get", "1", "--http", `http://127.0.0.1:${other.port}`]);
      expect(run.code, show(run)).toBe(6);
      expect(run.stderr).toContain("is --http the Gavel admin address?");
    } finally {
      other.stop(true);
    }
  });
});

describe("help and version", () => {
  test("--help lists the commands and the exit codes; each command has its own", async () => {
    const global = await runCli(["--help"]);
    expect(global.code).toBe(0);
    for (const command of ["create", "get", "list", "bids", "cancel", "bid", "watch", "ping", "backup"]) expect(global.stdout).toContain(`gavel ${command}`);
    expect(global.stdout).toContain("Exit codes:");
    expect(global.stdout).toContain("4  bid not decided, try again: UNAVAILABLE, UNCONFIRMED, OVERLOADED, RATE_LIMITED");

    const bid = await runCli(["bid", "--help"]);
    expect(bid.code).toBe(0);
    expect(bid.stdout).toStartWith("usage: gavel bid <auction> <user> <amount> [flags]");
    expect(bid.stdout).toContain("3  bid lost: OUTBID, CLOSED");
    const create = await runCli(["create", "-h"]);
    expect(create.stdout).toContain("--ends-in DURATION");
    expect(create.stdout).toContain("--http URL");
  });

  test("--version, through the package script, the bin's shebang and main.ts", async () => {
    const version = ((await Bun.file(`${import.meta.dir}/../../package.json`).json()) as { version: string }).version;
    const direct = await runCli(["--version"]);
    expect(direct.stdout).toBe(`gavel ${version}\n`);
    const script = await runCli(["gavel", "--", "--version"], { command: ["bun", "run"] });
    expect(script.code, show(script)).toBe(0);
    expect(script.stdout).toBe(`gavel ${version}\n`);
    const bin = await runCli(["--version", "--json"], { command: [CLI_MAIN] });
    expect(bin.code, show(bin)).toBe(0);
    expect(bin.json()).toEqual({ version });
  });
});
