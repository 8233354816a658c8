// GET /metrics on a real server: after bids of several statuses, subscriptions (one of them
// conflated), closes and a cancel, the Prometheus text counts exactly what happened, carries no
// auction or user id as a label, needs the admin token when one is set, and is 404 with
// GAVEL_METRICS=off.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeBid, type Frame } from "../../src/protocol/codec.ts";
import { BID_FRAME_SIZE, FrameType, Status } from "../../src/protocol/constants.ts";
import { connectRaw } from "../support/raw-client.ts";
import { openAuction, startTestServer, type TestServer } from "../support/server.ts";
import { subscribe } from "../support/subscriber.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const ADMIN_TOKEN = "metrics-admin-token-0123456789";
/** Rising bids sent in one write: one drain batch, so one tick's UPDATEs overflow the subscriber's 1 KiB. */
const FLOOD = 300;
/** The only label names Gavel's own metrics may carry: closed sets, never ids. */
const ALLOWED_LABELS = new Set(["status", "result", "transport", "le"]);

type Result = Extract<Frame, { type: typeof FrameType.RESULT }>;

/** The value of one sample (`name{labels} value`), or undefined when absent. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(labels === "" ? `${name} ` : `${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function scrape(gavel: TestServer, token?: string): Promise<Response> {
  return fetch(`${gavel.httpUrl}/metrics`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(20);
  }
}

function bids(list: [req: number, auction: number, user: number, amount: number][]): Uint8Array {
  const bytes = new Uint8Array(list.length * BID_FRAME_SIZE);
  let offset = 0;
  for (const [req, auction, user, amount] of list) offset = encodeBid(bytes, offset, req, auction, user, amount);
  return bytes;
}

describe("GET /metrics", () => {
  let gavel: TestServer;
  beforeAll(async () => {
    gavel = await startTestServer({
      store: "memory",
      env: {
        GAVEL_ADMIN_TOKEN: ADMIN_TOKEN,
        GAVEL_SUBSCRIBER_BUFFER: "1024",
        GAVEL_CLOSE_INTERVAL_MS: "50",
        // One bid per user per second: a user's second bid at once is RATE_LIMITED.
        GAVEL_BID_RATE: "1",
        GAVEL_BID_BURST: "1",
      },
    });
  });
  afterAll(async () => {
    await gavel.stop();
  });

  test("counts RESULTs by status, latency, batches, updates, conflation, closes and gauges, with no id as a label", async () => {
    const post = (path: string) => fetch(`${gavel.httpUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const create = async (fields: Record<string, unknown>) => {
      const response = await fetch(`${gavel.httpUrl}/v1/auctions`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify(fields) });
      expect(response.status).toBe(201);
      return ((await response.json()) as { id: number }).id;
    };
    const flooded = await create(openAuction({ starting_price: 1 }));
    const toSell = await create({ ends_at: Date.now() + 400, starting_price: 1 });
    await create({ ends_at: Date.now() + 400, starting_price: 1 }); // ends unsold: no bid
    const toCancel = await create(openAuction());

    const watcher = await subscribe(gavel.port, [flooded, toCancel]);
    const bidder = await connectRaw(gavel.port);
    try {
      // ACCEPTED x FLOOD (users 1000.., one bid each), then OUTBID, INVALID (user 0), UNKNOWN,
      // RATE_LIMITED (user 1000 again), and an ACCEPTED that sells `toSell`.
      const flood: [number, number, number, number][] = [];
      for (let i = 0; i < FLOOD; i++) flood.push([i + 1, flooded, 1000 + i, 10 + i]);
      bidder.send(bids(flood));
      await bidder.waitFor(FLOOD, 30_000);
      bidder.send(
        bids([
          [9001, flooded, 2001, 5],
          [9002, flooded, 0, 500],
          [9003, 4_000_000, 2002, 5],
          [9004, flooded, 1000, 900],
          [9005, toSell, 2003, 5],
        ]),
      );
      const results = (await bidder.waitFor(FLOOD + 5, 30_000)) as Result[];
      expect(results.slice(0, FLOOD).every((r) => r.status === Status.ACCEPTED)).toBe(true);
      // Answers before the store (INVALID, RATE_LIMITED) come first: compare by request.
      const byReq = results.slice(FLOOD).sort((a, b) => a.req - b.req);
      expect(byReq.map((r) => r.status)).toEqual([Status.OUTBID, Status.INVALID, Status.UNKNOWN, Status.RATE_LIMITED, Status.ACCEPTED]);
      await watcher.waitForSeq(flooded, FLOOD, 30_000);

      expect((await post(`/v1/auctions/${toCancel}/cancel`)).status).toBe(200);
      // Both short auctions end and the closer closes them: one sold, one unsold.
      let text = "";
      await eventually(async () => {
        text = await (await scrape(gavel, ADMIN_TOKEN)).text();
        return sample(text, "gavel_auctions_closed_total", 'result="sold"') === 1 && sample(text, "gavel_auctions_closed_total", 'result="unsold"') === 1;
      });

      const response = await scrape(gavel, ADMIN_TOKEN);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type") ?? "").toContain("text/plain");
      text = await response.text();

      expect(sample(text, "gavel_bids_total", 'status="accepted"')).toBe(FLOOD + 1);
      expect(sample(text, "gavel_bids_total", 'status="outbid"')).toBe(1);
      expect(sample(text, "gavel_bids_total", 'status="invalid"')).toBe(1);
      expect(sample(text, "gavel_bids_total", 'status="unknown"')).toBe(1);
      expect(sample(text, "gavel_bids_total", 'status="rate_limited"')).toBe(1);
      expect(sample(text, "gavel_bids_total", 'status="overloaded"')).toBe(0);
      expect(sample(text, "gavel_auctions_closed_total", 'result="cancelled"')).toBe(1);

      // Latency is measured for every bid the store answered; batches for every store call.
      expect(sample(text, "gavel_bid_latency_seconds_count")).toBe(FLOOD + 3);
      expect(sample(text, "gavel_bid_latency_seconds_bucket", 'le="+Inf"')).toBe(FLOOD + 3);
      expect(sample(text, "gavel_bid_latency_seconds_sum")!).toBeGreaterThan(0);
      const batches = sample(text, "gavel_store_batch_seconds_count")!;
      expect(batches).toBeGreaterThanOrEqual(2);
      expect(sample(text, "gavel_store_batch_size_count")).toBe(batches);
      expect(sample(text, "gavel_store_batch_size_sum")).toBe(FLOOD + 3);

      // The watcher's 1 KiB filled within the flood's tick: later UPDATEs were conflated.
      const sent = sample(text, "gavel_updates_sent_total")!;
      const conflated = sample(text, "gavel_conflated_total")!;
      expect(conflated).toBeGreaterThan(0);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(FLOOD);
      expect(watcher.updates(flooded).length).toBe(sent);
      expect(sample(text, "gavel_slow_subscriber_disconnects_total")).toBe(0);

      expect(sample(text, "gavel_connections", 'transport="tcp"')).toBe(2);
      expect(sample(text, "gavel_connections", 'transport="ws"')).toBe(0);
      expect(sample(text, "gavel_subscriptions")).toBe(2);
      expect(sample(text, "gavel_ring_depth")).toBe(0);
      expect(sample(text, "gavel_store_up")).toBe(1);
      expect(sample(text, "gavel_circuit_open")).toBe(0);

      // No auction or user id anywhere in a label: only closed sets label Gavel's metrics.
      for (const line of text.split("\n").filter((l) => l.startsWith("gavel_"))) {
        const labels = /\{([^}]*)\}/.exec(line)?.[1] ?? "";
        for (const pair of labels.split(",").filter((p) => p !== "")) {
          const [name, value] = pair.split("=") as [string, string];
          expect({ line, allowed: ALLOWED_LABELS.has(name) }).toEqual({ line, allowed: true });
          // Only a bucket bound is a number; an id never is a label value.
          if (name !== "le") expect({ line, numeric: /^"\d+"$/.test(value) }).toEqual({ line, numeric: false });
        }
      }
    } finally {
      watcher.close();
      bidder.close();
    }
  });

  test("with the admin token set, /metrics needs it", async () => {
    expect((await scrape(gavel)).status).toBe(401);
    expect((await scrape(gavel, "wrong")).status).toBe(401);
    expect((await scrape(gavel, ADMIN_TOKEN)).status).toBe(200);
  });
});

describe("GAVEL_METRICS=off", () => {
  test("/metrics answers 404 and bids are answered as usual", async () => {
    const gavel = await startTestServer({ store: "memory", env: { GAVEL_METRICS: "off" } });
    try {
      const id = (await gavel.createAuction(openAuction())).id;
      const bidder = await connectRaw(gavel.port);
      bidder.send(bids([[1, id, 7, 5]]));
      const [result] = (await bidder.waitFor(1)) as Result[];
      expect(result!.status).toBe(Status.ACCEPTED);
      bidder.close();
      expect((await scrape(gavel)).status).toBe(404);
    } finally {
      await gavel.stop();
    }
  });
});
