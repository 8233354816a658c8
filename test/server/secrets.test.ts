// No secret leaves the server: a Redis password is in none of the process's output (start-up
// line, failed start, outage logs), a 503 tells the client what to do and nothing of the
// library behind it, and the admin token is compared in constant time.

import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { AdminToken } from "../../src/http/admin-token.ts";
import { REDACTED } from "../../src/log/redact.ts";
import { frames } from "../support/frames.ts";
import { startGavel } from "../support/gavel.ts";
import { runGavelExpectingFailure, spawnGavel, type GavelProcess } from "../support/process.ts";
import { connectRaw } from "../support/raw-client.ts";
import { startRedis, type RedisHandle } from "../support/redis.ts";
import { openAuction } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

/** Long enough that ioredis tries to reconnect a few times and the node logs the outage. */
const OUTAGE_MS = 2_500;
const POLL_MS = 50;
const WAIT_MS = 10_000;
/** Words of ioredis's own error messages that must not reach a client. */
const LIBRARY_WORDS = ["Stream", "writeable", "enableOfflineQueue", "ioredis", "ECONNREFUSED", "Connection is closed"];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A password no other text here would contain by chance. */
function makePassword(): string {
  return `pw-${randomBytes(12).toString("hex")}`;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(POLL_MS);
  }
}

async function startNode(redisUrl: string): Promise<GavelProcess> {
  const node = await spawnGavel({ GAVEL_STORE: "redis", REDIS_URL: redisUrl });
  cleanups.push(() => node.kill("SIGKILL"));
  return node;
}

describe("a Redis password", () => {
  let redis: RedisHandle;
  let password: string;

  async function startPasswordRedis(): Promise<void> {
    password = makePassword();
    redis = await startRedis({ password });
    cleanups.push(() => redis.stop());
  }

  test("is in no output of a node, from start-up through an outage; the 503 body names no library internals", async () => {
    await startPasswordRedis();
    const node = await startNode(redis.url);
    expect(node.output()).toContain(`store redis (redis://:${REDACTED}@127.0.0.1:${redis.port})`);
    const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction()) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };

    await redis.kill();
    // Bids and reads while Redis is away: the store fails, the breaker opens, all of it logged.
    const bidder = await connectRaw(node.port);
    cleanups.push(() => bidder.close());
    const outageEnds = Date.now() + OUTAGE_MS;
    let answers503 = 0;
    for (let req = 1; Date.now() < outageEnds; req++) {
      bidder.send(frames().bid(req, id, 1, req * 10).bytes());
      const response = await fetch(`${node.httpUrl}/v1/auctions/${id}`);
      if (response.status === 503) {
        answers503++;
        expect(response.headers.get("retry-after")).toBe("1");
        const text = await response.text();
        expect(JSON.parse(text)).toEqual({ error: "the store is unavailable; retry later", retry_after_s: 1 });
        for (const word of LIBRARY_WORDS) expect(text).not.toContain(word);
      } else {
        await response.body?.cancel();
      }
      await Bun.sleep(POLL_MS * 2);
    }
    expect(answers503).toBeGreaterThan(0);
    // The failure was logged server-side (once, not per request), with no password in it.
    expect(node.output()).toContain("an admin request failed");
    expect(node.output().match(/an admin request failed/g)).toHaveLength(1);

    await redis.restart();
    await until(async () => (await fetch(`${node.httpUrl}/readyz`)).status === 200, "readiness after the restart");
    expect(node.proc.exitCode).toBeNull();
    await node.kill("SIGTERM");
    const output = node.output();
    expect(output).toContain("gavel: stopped");
    expect(output).not.toContain(password);
  });

  test("is in no output in its other URL forms: user:password@ and ?password=", async () => {
    await startPasswordRedis();
    for (const url of [
      `redis://default:${password}@127.0.0.1:${redis.port}`,
      `redis://127.0.0.1:${redis.port}/?password=${password}`,
    ]) {
      const node = await startNode(url);
      const created = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction()) });
      expect(created.status).toBe(201); // the password was used
      await node.kill("SIGTERM");
      expect(node.output()).toContain(REDACTED);
      expect(node.output()).not.toContain(password);
    }
  });

  test("a wrong one stops start-up, and neither it nor the right one is printed", async () => {
    await startPasswordRedis();
    const wrong = makePassword();
    const refused = await runGavelExpectingFailure({ GAVEL_STORE: "redis", REDIS_URL: `redis://app:${wrong}@127.0.0.1:${redis.port}` });
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(`redis://app:${REDACTED}@127.0.0.1:${redis.port}`);
    expect(refused.output).not.toContain(wrong);
    expect(refused.output).not.toContain(password);
  });

  test("a REDIS_URL without its scheme is refused without echoing it", async () => {
    const secret = makePassword();
    const refused = await runGavelExpectingFailure({ GAVEL_STORE: "redis", REDIS_URL: `app:${secret}@127.0.0.1:6379` });
    expect(refused.code).toBe(2);
    expect(refused.output).toContain("REDIS_URL");
    expect(refused.output).not.toContain(secret);
  });
});

describe("the admin token", () => {
  const TOKEN = "s3cret-admin-token";

  test("over HTTP: the right token creates, wrong ones of equal and other lengths and none get 401", async () => {
    const gavel = await startGavel("memory", { GAVEL_ADMIN_TOKEN: TOKEN });
    cleanups.push(() => gavel.dispose());
    const post = (authorization: string | null) =>
      fetch(`${gavel.httpUrl}/v1/auctions`, {
        method: "POST",
        body: JSON.stringify(openAuction()),
        headers: authorization === null ? {} : { authorization },
      });
    const sameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith("x") ? "y" : "x");
    expect(sameLength).toHaveLength(TOKEN.length);
    for (const wrong of [`Bearer ${sameLength}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, "Bearer ", TOKEN, `bearer ${TOKEN}`, null]) {
      const response = await post(wrong);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain(TOKEN);
    }
    expect((await post(`Bearer ${TOKEN}`)).status).toBe(201);
  });

  test("AdminToken: accepts the token, refuses others of any length; an empty token allows all", () => {
    const token = new AdminToken(TOKEN);
    expect(token.allows(`Bearer ${TOKEN}`)).toBe(true);
    for (const wrong of [`Bearer ${TOKEN.toUpperCase()}`, `Bearer ${TOKEN} `, `Bearer ${"x".repeat(10_000)}`, "", null]) {
      expect(token.allows(wrong)).toBe(false);
    }
    const open = new AdminToken("");
    expect(open.allows(null)).toBe(true);
    expect(open.allows("Bearer anything")).toBe(true);
  });
});
