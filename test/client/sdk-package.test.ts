// The SDK as users get it: `bun run build:sdk` builds dist/sdk, npm installs it into a fresh
// directory, and a script run by Node itself (not Bun) imports `@gavel/client` by name,
// connects to a real Gavel server over node:net, subscribes, bids and receives the UPDATE.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const ROOT = join(import.meta.dir, "..", "..");
const SDK_DIR = join(ROOT, "dist", "sdk");
/** Node as users run it (the image's Debian package), not Bun's node shim. */
const NODE = Bun.which("node", { PATH: "/usr/bin:/usr/local/bin" }) ?? "node";

const CONSUMER_SCRIPT = `
import { GavelClient, Status, statusName } from "@gavel/client";

const port = Number(process.env.GAVEL_TEST_PORT);
const auction = Number(process.env.GAVEL_TEST_AUCTION);
const client = await GavelClient.connect({ port, keepalive: 1000 });
const live = client.subscribe(auction);
const events = [];
const first = await live.next();
events.push(first.value);
const result = await client.bid(auction, 42, 1500);
const second = await live.next();
events.push(second.value);
await live.close();
await client.close();
console.log(JSON.stringify({
  runtime: typeof Bun === "undefined" ? "node " + process.version : "bun",
  status: result.status,
  statusName: result.statusName,
  accepted: result.status === Status.ACCEPTED,
  named: statusName(result.status),
  events,
}));
`;

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ store: "memory" });
  dir = mkdtempSync(join(tmpdir(), "gavel-sdk-"));
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function run(command: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const child = Bun.spawn(command, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${command.join(" ")} exited with ${code}\n${stdout}\n${stderr}`);
  return stdout;
}

test("built, npm-installed by path and imported by name under Node: connects, subscribes, bids, gets the UPDATE", async () => {
  await run(["bun", "run", "build:sdk"], ROOT);
  const manifest = (await Bun.file(join(SDK_DIR, "package.json")).json()) as { name: string; exports: { ".": { types: string; import: string } } };
  expect(manifest.name).toBe("@gavel/client");
  expect(existsSync(join(SDK_DIR, manifest.exports["."].types))).toBe(true);
  expect(existsSync(join(SDK_DIR, manifest.exports["."].import))).toBe(true);

  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  await run(["npm", "install", "--install-links", "--offline", "--no-audit", "--no-fund", SDK_DIR], dir);
  writeFileSync(join(dir, "consumer.mjs"), CONSUMER_SCRIPT);

  const { id } = await server.createAuction(openAuction({ starting_price: 1000 }));
  const out = await run([NODE, "consumer.mjs"], dir, { GAVEL_TEST_PORT: String(server.port), GAVEL_TEST_AUCTION: String(id) });
  const report = JSON.parse(out.trim().split("\n").at(-1)!);
  expect(report.runtime).toStartWith("node v");
  expect(report).toMatchObject({ status: 0, statusName: "ACCEPTED", accepted: true, named: "ACCEPTED" });
  expect(report.events).toEqual([
    { type: "state", auction: id, phase: 2, seq: 0, amount: 0, leader: 0, endsAt: expect.any(Number) },
    { type: "update", auction: id, seq: 1, amount: 1500, leader: 42, endsAt: expect.any(Number) },
  ]);
});
