// GAVEL_ADMIN_PORT: the admin API on a listener of its own, over a real server process. The
// HTTP port keeps the page, /ws, /healthz, /readyz and GET /v1/auctions/:id.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodePing } from "../../src/protocol/codec.ts";
import { FrameType, HEADER_SIZE, PayloadLength } from "../../src/protocol/constants.ts";
import { loadConfig } from "../../src/config.ts";
import { runGavelExpectingFailure, spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectWs } from "../support/ws-client.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const TOKEN = "admin-listener-token";
const ADMIN_URL = /(https?:\/\/[^:\s]+:\d+) \(admin\)/;
const bearer = { authorization: `Bearer ${TOKEN}` };

describe("GAVEL_ADMIN_PORT set, with GAVEL_ADMIN_TOKEN", () => {
  let gavel: GavelProcess;
  let adminUrl: string;
  let auction: number;
  beforeAll(async () => {
    gavel = await spawnGavel({ GAVEL_STORE: "memory", GAVEL_ADMIN_PORT: "0", GAVEL_ADMIN_TOKEN: TOKEN });
    adminUrl = ADMIN_URL.exec(gavel.output())![1]!;
  });
  afterAll(() => gavel.kill("SIGTERM"));

  test("the start-up line names both listeners, the admin one apart from the HTTP port", () => {
    expect(adminUrl).toStartWith("http://127.0.0.1:");
    expect(adminUrl).not.toBe(gavel.httpUrl);
    expect(gavel.output()).toContain(`${gavel.httpUrl} (live page, /ws, health)`);
  });

  test("admin writes and admin reads on the public port are 404, even with the token", async () => {
    const body = JSON.stringify({ ends_at: Date.now() + 60_000 });
    expect((await fetch(`${gavel.httpUrl}/v1/auctions`, { method: "POST", headers: bearer, body })).status).toBe(404);
    expect((await fetch(`${gavel.httpUrl}/v1/auctions`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${gavel.httpUrl}/v1/auctions/1/bids`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${gavel.httpUrl}/v1/auctions/1/cancel`, { method: "POST", headers: bearer })).status).toBe(404);
    expect((await fetch(`${gavel.httpUrl}/metrics`)).status).toBe(404);
  });

  test("on the admin port every route needs the token, reads too; with it, writes and reads work", async () => {
    const body = JSON.stringify({ title: "Lamp", ends_at: Date.now() + 60_000 });
    expect((await fetch(`${adminUrl}/v1/auctions`, { method: "POST", body })).status).toBe(401);
    expect((await fetch(`${adminUrl}/v1/auctions`)).status).toBe(401);
    expect((await fetch(`${adminUrl}/v1/auctions`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const created = await fetch(`${adminUrl}/v1/auctions`, { method: "POST", headers: bearer, body });
    expect(created.status).toBe(201);
    auction = ((await created.json()) as { id: number }).id;
    expect((await fetch(`${adminUrl}/v1/auctions/${auction}/bids`)).status).toBe(401);
    expect((await fetch(`${adminUrl}/v1/auctions/${auction}/bids`, { headers: bearer })).status).toBe(200);
    const listed = (await (await fetch(`${adminUrl}/v1/auctions`, { headers: bearer })).json()) as { auctions: { id: number }[] };
    expect(listed.auctions.map((a) => a.id)).toContain(auction);
    // The public routes are not served here.
    expect((await fetch(`${adminUrl}/healthz`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${adminUrl}/`, { headers: bearer })).status).toBe(404);
  });

  test("the public port keeps the page, /ws, health, readiness and the auction read, without a token", async () => {
    expect((await fetch(`${gavel.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${gavel.httpUrl}/readyz`)).status).toBe(200);
    const page = await fetch(`${gavel.httpUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const read = await fetch(`${gavel.httpUrl}/v1/auctions/${auction}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { title: string }).title).toBe("Lamp");

    const ws = await connectWs(gavel.httpUrl);
    const ping = new Uint8Array(HEADER_SIZE + PayloadLength.PING);
    encodePing(ping, 0, 7);
    ws.send(ping);
    const [pong] = await ws.waitFor(1);
    expect(pong!.type).toBe(FrameType.PONG);
    ws.close();
  });
});

describe("GAVEL_ADMIN_PORT unset: today's single port", () => {
  test("everything on GAVEL_HTTP_PORT; the token guards the writes, reads need none", async () => {
    const gavel = await spawnGavel({ GAVEL_STORE: "memory", GAVEL_ADMIN_TOKEN: TOKEN });
    try {
      expect(gavel.output()).not.toContain("(live page, /ws, health)");
      const body = JSON.stringify({ ends_at: Date.now() + 60_000 });
      expect((await fetch(`${gavel.httpUrl}/v1/auctions`, { method: "POST", body })).status).toBe(401);
      const created = await fetch(`${gavel.httpUrl}/v1/auctions`, { method: "POST", headers: bearer, body });
      expect(created.status).toBe(201);
      const id = ((await created.json()) as { id: number }).id;
      expect((await fetch(`${gavel.httpUrl}/v1/auctions`)).status).toBe(200);
      expect((await fetch(`${gavel.httpUrl}/v1/auctions/${id}/bids`)).status).toBe(200);
      expect((await fetch(`${gavel.httpUrl}/healthz`)).status).toBe(200);
    } finally {
      await gavel.kill("SIGTERM");
    }
  });
});

describe("GAVEL_ADMIN_PORT settings", () => {
  test("the same port as GAVEL_HTTP_PORT or GAVEL_PORT is refused, naming the setting", async () => {
    expect(() => loadConfig({ GAVEL_STORE: "memory", GAVEL_HTTP_PORT: "7501", GAVEL_ADMIN_PORT: "7501" })).toThrow("GAVEL_ADMIN_PORT: must differ");
    expect(() => loadConfig({ GAVEL_STORE: "memory", GAVEL_PORT: "7500", GAVEL_ADMIN_PORT: "7500" })).toThrow("GAVEL_ADMIN_PORT: must differ");
    const refused = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_ADMIN_PORT: "70000" });
    expect(refused.code).toBe(2);
    expect(refused.output).toContain("GAVEL_ADMIN_PORT");
    expect(loadConfig({ GAVEL_STORE: "memory" }).adminPort).toBe(-1);
  });
});
