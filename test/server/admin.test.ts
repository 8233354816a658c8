// The admin HTTP API over real HTTP.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

describe("admin API", () => {
  let gavel: GavelFixture;
  const token = "s3cret";
  beforeAll(async () => {
    gavel = await startGavel("sqlite", { GAVEL_ADMIN_TOKEN: token });
  });
  afterAll(() => gavel.dispose());

  const post = (body: unknown, auth = true) =>
    fetch(`${gavel.httpUrl}/v1/auctions`, {
      method: "POST",
      headers: auth ? { authorization: `Bearer ${token}` } : {},
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  test("creates an auction with defaults and reads it back", async () => {
    const endsAt = Date.now() + 60_000;
    const response = await post({ title: "Lamp", ends_at: endsAt });
    expect(response.status).toBe(201);
    const created = (await response.json()) as Record<string, any>;
    expect(created).toMatchObject({
      title: "Lamp",
      phase: "open",
      starting_price: 1,
      min_increment: 1,
      reserve: 0,
      ends_at: endsAt,
      anti_snipe_ms: 0,
      max_ends_at: null,
      seq: 0,
      amount: 0,
      leader: 0,
    });
    const read = await fetch(`${gavel.httpUrl}/v1/auctions/${created.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(created);
  });

  test("an increment table is stored and read back; min_increment is its first step", async () => {
    const increments = [
      { from: 0, step: 5 },
      { from: 100, step: 25 },
      { from: 500, step: 50 },
    ];
    const response = await post({ ends_at: Date.now() + 60_000, increments });
    expect(response.status).toBe(201);
    const created = (await response.json()) as Record<string, any>;
    expect(created).toMatchObject({ min_increment: 5, increments });
    const read = await fetch(`${gavel.httpUrl}/v1/auctions/${created.id}`);
    expect(await read.json()).toEqual(created);
    const plain = (await (await post({ ends_at: Date.now() + 60_000, min_increment: 7 })).json()) as Record<string, any>;
    expect(plain).toMatchObject({ min_increment: 7, increments: null });
  });

  test("the README's example table (eBay's US ladder, in cents) is accepted as written", async () => {
    const readme = await Bun.file(new URL("../../README.md", import.meta.url)).text();
    const example = /-d '(\{"title": "Lamp", "starting_price": 99[^']*)'/.exec(readme);
    expect(example).not.toBeNull();
    const body = JSON.parse(example![1]!) as { increments: { from: number; step: number }[] };
    expect(body.increments.slice(0, 4)).toEqual([
      { from: 0, step: 5 },
      { from: 100, step: 25 },
      { from: 500, step: 50 },
      { from: 2500, step: 100 },
    ]);
    const response = await post(body);
    expect(response.status).toBe(201);
    expect(((await response.json()) as { increments: unknown }).increments).toEqual(body.increments);
  });

  test("a scheduled auction reads as scheduled", async () => {
    const now = Date.now();
    const created = (await (await post({ starts_at: now + 60_000, ends_at: now + 120_000 })).json()) as Record<string, any>;
    expect(created.phase).toBe("scheduled");
  });

  test("401 without the admin token", async () => {
    const response = await post({ ends_at: Date.now() + 60_000 }, false);
    expect(response.status).toBe(401);
  });

  test("409 for an id that exists", async () => {
    const body = { id: 4242, ends_at: Date.now() + 60_000 };
    expect((await post(body)).status).toBe(201);
    const again = await post(body);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toContain("4242");
  });

  test("404 for an unknown auction", async () => {
    expect((await fetch(`${gavel.httpUrl}/v1/auctions/123456`)).status).toBe(404);
  });

  const badBodies: [string, unknown, string][] = [
    ["not JSON", "{nope", "JSON"],
    ["no ends_at", {}, "ends_at"],
    ["min_increment 0", { ends_at: Date.now() + 60_000, min_increment: 0 }, "min_increment"],
    ["starting_price 0", { ends_at: Date.now() + 60_000, starting_price: 0 }, "starting_price"],
    ["fractional reserve", { ends_at: Date.now() + 60_000, reserve: 1.5 }, "reserve"],
    ["ends before it starts", { starts_at: Date.now() + 60_000, ends_at: Date.now() }, "ends_at"],
    ["max_ends_at before ends_at", { ends_at: Date.now() + 60_000, max_ends_at: Date.now() }, "max_ends_at"],
    ["title not a string", { ends_at: Date.now() + 60_000, title: 7 }, "title"],
    ["buy-now below the reserve", { ends_at: Date.now() + 60_000, reserve: 1000, buy_now_price: 500 }, "buy_now_price"],
    ["increments not an array", { ends_at: Date.now() + 60_000, increments: { from: 0, step: 5 } }, "increments must be an array"],
    ["increments empty", { ends_at: Date.now() + 60_000, increments: [] }, "at least one row"],
    ["increments not from 0", { ends_at: Date.now() + 60_000, increments: [{ from: 100, step: 5 }] }, "increments[0].from must be 0"],
    ["increments not ascending", { ends_at: Date.now() + 60_000, increments: [{ from: 0, step: 5 }, { from: 100, step: 10 }, { from: 100, step: 20 }] }, "increments[2].from must be above increments[1].from"],
    ["increments step 0", { ends_at: Date.now() + 60_000, increments: [{ from: 0, step: 0 }] }, "increments[0].step must be a whole number between 1"],
    ["increments step shrinks", { ends_at: Date.now() + 60_000, increments: [{ from: 0, step: 10 }, { from: 100, step: 5 }] }, "increments[1].step must not be below increments[0].step"],
    ["increments fractional from", { ends_at: Date.now() + 60_000, increments: [{ from: 0, step: 5 }, { from: 99.5, step: 5 }] }, "increments[1].from must be a whole number"],
    ["increments row with another field", { ends_at: Date.now() + 60_000, increments: [{ from: 0, step: 5, until: 100 }] }, "unknown field \"until\""],
    ["increments and min_increment", { ends_at: Date.now() + 60_000, min_increment: 5, increments: [{ from: 0, step: 5 }] }, "either min_increment or increments"],
    ["increments too long", { ends_at: Date.now() + 60_000, increments: Array.from({ length: 65 }, (_, i) => ({ from: i * 10, step: 1 })) }, "at most 64 rows"],
  ];
  for (const [name, body, field] of badBodies) {
    test(`400 naming the field: ${name}`, async () => {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain(field);
    });
  }

  test("healthz", async () => {
    const response = await fetch(`${gavel.httpUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, store: "sqlite", pid: process.pid });
  });
});
