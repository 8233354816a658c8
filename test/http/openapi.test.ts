// The admin API's description (docs/openapi.json, OpenAPI 3.1) against the running server:
// every documented operation and answer is exercised on a real server, and every response
// body is validated against the schema documented for its path, method and status.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import { join } from "node:path";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const DOC_PATH = join(import.meta.dir, "../../docs/openapi.json");
const DOC_ID = "gavel-openapi.json";
const ADMIN_TOKEN = "test-admin-token-0123456789";

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type PathItem = Record<string, Operation | unknown>;
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, PathItem>;
}

const doc = (await Bun.file(DOC_PATH).json()) as OpenApiDoc;
// OpenAPI 3.1 schemas are JSON Schema 2020-12: the document is added whole, so its internal
// $refs (#/components/schemas/...) resolve, and each response schema is compiled by pointer.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(doc, DOC_ID);

const METHODS = ["get", "post", "put", "delete", "patch"];
/** Every documented (path template, method, status). */
const documented = new Set<string>();
for (const [path, item] of Object.entries(doc.paths)) {
  for (const method of METHODS) {
    const operation = item[method] as Operation | undefined;
    if (operation === undefined) continue;
    for (const status of Object.keys(operation.responses)) documented.add(`${method.toUpperCase()} ${path} ${status}`);
  }
}
const exercised = new Set<string>();

/** The documented path template a concrete path matches, or null. */
function templateOf(path: string): string | null {
  for (const template of Object.keys(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    if (pattern.test(path)) return template;
  }
  return null;
}

function pointerEscape(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Sends a request and validates the answer against the description; returns status and body. */
async function call(base: string, method: string, pathAndQuery: string, body?: unknown, token?: string) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${pathAndQuery}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const path = new URL(pathAndQuery, base).pathname;
  const template = templateOf(path);
  expect({ path, documented: template !== null }).toEqual({ path, documented: true });
  const status = String(response.status);
  const key = `${method} ${template} ${status}`;
  expect({ key, documented: documented.has(key) }).toEqual({ key, documented: true });
  exercised.add(key);
  // A text answer (the Prometheus metrics) is checked for its documented media type only.
  const content = (doc.paths[template!]![method.toLowerCase()] as Operation).responses[status]!.content ?? {};
  if (content["text/plain"] !== undefined) {
    expect(response.headers.get("content-type") ?? "").toContain("text/plain");
    return { status: response.status, body: { text } as Record<string, unknown> };
  }
  expect(response.headers.get("content-type") ?? "").toContain("application/json");
  const json = JSON.parse(text) as unknown;
  const pointer = `${DOC_ID}#/paths/${pointerEscape(template!)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
  const validate = ajv.getSchema(pointer) ?? ajv.compile({ $ref: pointer });
  const valid = validate(json);
  expect({ key, body: json, errors: valid ? null : validate.errors }).toEqual({ key, body: json, errors: null });
  return { status: response.status, body: json as Record<string, unknown> };
}

describe("docs/openapi.json", () => {
  test("is an OpenAPI 3.1 document whose schemas compile", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(documented.size).toBeGreaterThan(15);
  });

  describe("against a server (memory store, admin token set)", () => {
    let gavel: TestServer;
    beforeAll(async () => {
      gavel = await startTestServer({ store: "memory", env: { GAVEL_ADMIN_TOKEN: ADMIN_TOKEN } });
    });
    afterAll(async () => {
      await gavel.stop();
    });

    test("every operation's answers match the description", async () => {
      const base = gavel.httpUrl;
      const endsAt = Date.now() + 3_600_000;
      const created = await call(base, "POST", "/v1/auctions", { title: "Lamp", starting_price: 100, reserve: 150, buy_now_price: 900, ends_at: endsAt, anti_snipe_ms: 1000, max_ends_at: endsAt + 60_000 }, ADMIN_TOKEN);
      expect(created.status).toBe(201);
      const id = created.body.id as number;
      await call(base, "POST", "/v1/auctions", { id: 1_000, ends_at: endsAt }, ADMIN_TOKEN);
      const tabled = await call(base, "POST", "/v1/auctions", { ends_at: endsAt, increments: [{ from: 0, step: 5 }, { from: 100, step: 25 }] }, ADMIN_TOKEN);
      expect(tabled.status).toBe(201);
      expect((await call(base, "POST", "/v1/auctions", { ends_at: endsAt, increments: [{ from: 5, step: 5 }] }, ADMIN_TOKEN)).status).toBe(400);
      expect((await call(base, "POST", "/v1/auctions", { id: 1_000, ends_at: endsAt }, ADMIN_TOKEN)).status).toBe(409);
      expect((await call(base, "POST", "/v1/auctions", { ends_at: "soon" }, ADMIN_TOKEN)).status).toBe(400);
      expect((await call(base, "POST", "/v1/auctions", { ends_at: endsAt })).status).toBe(401);
      expect((await call(base, "POST", "/v1/auctions", { ends_at: endsAt }, "wrong")).status).toBe(401);

      // A few accepted bids, so the history has pages.
      const { GavelClient } = await import("../../src/client/client.ts");
      const client = await GavelClient.connect({ port: gavel.port });
      for (let i = 0; i < 5; i++) expect((await client.bid(id, 7 + i, 100 + i * 10)).status).toBe(0);
      await client.close();

      expect((await call(base, "GET", `/v1/auctions/${id}`)).body.seq).toBe(5);
      expect((await call(base, "GET", "/v1/auctions/4000000")).status).toBe(404);
      const page = await call(base, "GET", "/v1/auctions?phase=open&limit=1");
      expect(typeof page.body.next).toBe("string");
      await call(base, "GET", page.body.next as string);
      expect((await call(base, "GET", "/v1/auctions?phase=sold")).status).toBe(400);
      const bids = await call(base, "GET", `/v1/auctions/${id}/bids?limit=2`);
      expect((bids.body.bids as unknown[]).length).toBe(2);
      await call(base, "GET", bids.body.next as string);
      expect((await call(base, "GET", `/v1/auctions/${id}/bids?limit=many`)).status).toBe(400);
      expect((await call(base, "GET", "/v1/auctions/4000000/bids")).status).toBe(404);

      expect((await call(base, "POST", `/v1/auctions/${id}/cancel`)).status).toBe(401);
      expect((await call(base, "POST", `/v1/auctions/${id}/cancel`, undefined, ADMIN_TOKEN)).body.phase).toBe("closed");
      expect((await call(base, "POST", `/v1/auctions/${id}/cancel`, undefined, ADMIN_TOKEN)).status).toBe(409);
      expect((await call(base, "POST", "/v1/auctions/4000000/cancel", undefined, ADMIN_TOKEN)).status).toBe(404);

      expect((await call(base, "GET", "/healthz")).status).toBe(200);
      expect((await call(base, "GET", "/readyz")).status).toBe(200);
      expect((await call(base, "GET", "/metrics")).status).toBe(401);
      expect((await call(base, "GET", "/metrics", undefined, ADMIN_TOKEN)).body.text).toContain("gavel_bids_total");
    });
  });

  describe("against a server whose Redis is down", () => {
    let redis: RedisHandle;
    let gavel: TestServer;
    beforeAll(async () => {
      redis = await startRedis();
      gavel = await startTestServer({ store: "redis", redisUrl: redis.url, env: { GAVEL_ADMIN_TOKEN: ADMIN_TOKEN } });
    });
    afterAll(async () => {
      await gavel.stop();
      await redis.stop();
    });

    test("503 answers (and readiness) match the description", async () => {
      const base = gavel.httpUrl;
      const created = await call(base, "POST", "/v1/auctions", { ends_at: Date.now() + 3_600_000 }, ADMIN_TOKEN);
      const id = created.body.id as number;
      await redis.stop();
      expect((await call(base, "POST", "/v1/auctions", { ends_at: Date.now() + 3_600_000 }, ADMIN_TOKEN)).status).toBe(503);
      expect((await call(base, "GET", `/v1/auctions/${id}`)).status).toBe(503);
      expect((await call(base, "GET", "/v1/auctions")).status).toBe(503);
      expect((await call(base, "GET", `/v1/auctions/${id}/bids`)).status).toBe(503);
      expect((await call(base, "POST", `/v1/auctions/${id}/cancel`, undefined, ADMIN_TOKEN)).status).toBe(503);
      expect((await call(base, "GET", "/readyz")).status).toBe(503);
      expect((await call(base, "GET", "/healthz")).status).toBe(200);
    });
  });

  test("every documented answer was exercised", () => {
    expect([...documented].filter((key) => !exercised.has(key)).sort()).toEqual([]);
  });
});
