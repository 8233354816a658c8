// The load generator: real runs against an in-process server, and a fake server that breaks
// the exactly-once rule on purpose, which the generator must report loudly.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { join } from "node:path";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { readU32 } from "../../src/protocol/bytes.ts";
import { encodeResult } from "../../src/protocol/codec.ts";
import { FrameType, RESULT_FRAME_SIZE, Status } from "../../src/protocol/constants.ts";
import { Histogram, MAX_SPAN, Outstanding, Reply, runLoad, type LoadReport } from "../../bench/load/index.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const LOAD_CLI = join(import.meta.dir, "../../bench/load.ts");
const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

function expectExactlyOnce(report: LoadReport): void {
  expect(report.failures).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.totals.answered).toBe(report.totals.sent);
  expect(report.totals.unanswered).toBe(0);
  expect(report.totals.duplicates).toBe(0);
  expect(report.totals.neverSent).toBe(0);
  expect(sum(report.totals.statuses) + sum(report.totals.errors)).toBe(report.totals.sent);
  const l = report.latencyUs;
  expect(l.count).toBeGreaterThan(0);
  expect(l.min).toBeLessThanOrEqual(l.p50);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
}

describe("runLoad against a real server (memory store)", () => {
  let server: TestServer;
  const target = () => ({ port: server.port, httpPort: server.server.httpPort, progress: false });

  beforeAll(async () => {
    server = await startTestServer({ store: "memory" });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("closed loop: 4 connections x 8 in flight, 2000 bids, each answered exactly once", async () => {
    const report = await runLoad({ ...target(), connections: 4, window: 8, auctions: 20, bids: 2000, warmupS: 0, graceS: 2 });
    expectExactlyOnce(report);
    expect(report.config.mode).toBe("closed");
    expect(report.totals.sent).toBe(2000);
    expect(report.measured.answered).toBe(2000);
    expect(report.latencyUs.count).toBe(2000);
    // Rising amounts over 20 auctions: bids mostly win.
    expect(report.totals.statuses.ACCEPTED!).toBeGreaterThan(1000);
    expect(report.measured.answeredPerS).toBeGreaterThan(0);
    expect(report.cpu.processes[0]!.label).toBe("generator");
  });

  test("open loop: the offered rate is sent whatever the replies, each answered once", async () => {
    const rate = 2000;
    const report = await runLoad({ ...target(), connections: 4, rate, durationS: 0.5, warmupS: 0.25, auctions: 10, graceS: 2 });
    expectExactlyOnce(report);
    expect(report.config.mode).toBe("open");
    const planned = rate * 0.75;
    expect(report.totals.sent).toBeGreaterThanOrEqual(planned * 0.95);
    expect(report.totals.sent).toBeLessThanOrEqual(planned * 1.05);
    expect(report.sendLagUs).not.toBeNull();
    // Warm-up requests are checked but left out of the figures.
    expect(report.measured.answered).toBeLessThan(report.totals.answered);
  });

  test("a hot auction with random amounts: contention shows as OUTBID", async () => {
    const report = await runLoad({ ...target(), connections: 4, window: 8, hot: true, amounts: "random", bids: 1000, warmupS: 0 });
    expectExactlyOnce(report);
    expect(report.config.auctions).toBe(1);
    expect(report.totals.statuses.OUTBID!).toBeGreaterThan(report.totals.statuses.ACCEPTED!);
  });

  test("--max-share 0.5: half the bids go as MAX_BID, each answered once, and maxima make steps", async () => {
    const report = await runLoad({ ...target(), connections: 4, window: 8, auctions: 5, bids: 2000, warmupS: 0, graceS: 2, maxShare: 0.5 });
    expectExactlyOnce(report);
    expect(report.config.maxShare).toBe(0.5);
    let byMax = 0;
    let byBid = 0;
    for (let id = report.config.auctionIds.first; id <= report.config.auctionIds.last; id++) {
      const page = (await (await fetch(`${server.httpUrl}/v1/auctions/${id}/bids?limit=500`)).json()) as { bids: { by: string }[] };
      for (const bid of page.bids) if (bid.by === "max") byMax++;
      else byBid++;
    }
    expect(byMax).toBeGreaterThan(0);
    expect(byBid).toBeGreaterThan(0);
  });

  test("--procs: two child processes share the load and their figures are merged", async () => {
    const report = await runLoad({ ...target(), connections: 4, window: 4, auctions: 10, bids: 1001, warmupS: 0, procs: 2 });
    expectExactlyOnce(report);
    expect(report.config.procs).toBe(2);
    expect(report.totals.sent).toBe(1001);
    expect(report.latencyUs.count).toBe(1001);
  });

  test("a rerun with the same --auction-base bids on fresh auctions", async () => {
    const base = 5_000_000;
    const first = await runLoad({ ...target(), connections: 1, window: 1, auctions: 3, auctionBase: base, bids: 10, warmupS: 0 });
    const second = await runLoad({ ...target(), connections: 1, window: 1, auctions: 3, auctionBase: base, bids: 10, warmupS: 0 });
    expect(first.config.auctionIds.first).toBe(base);
    expect(second.config.auctionIds.first).toBeGreaterThan(first.config.auctionIds.last);
    expect(second.totals.statuses.ACCEPTED).toBe(10);
  });
});

// ---- A fake server that breaks the contract ------------------------------------------------

type Misbehaviour = "none" | "drop" | "duplicate" | "phantom" | "silent";

interface FakeServer {
  port: number;
  httpPort: number;
  stop(): void;
}

/** The bid (counted over all connections) that the fake server mistreats. */
const VICTIM = 100;

/** Answers every BID with ACCEPTED, except that it drops, doubles, or invents one reply (or all). */
function startFakeServer(misbehaviour: Misbehaviour): FakeServer {
  let bids = 0;
  interface Conn {
    assembler: FrameAssembler;
    out: Uint8Array;
    length: number;
  }
  const reply = (conn: Conn, req: number, auction: number) => {
    if (conn.length + RESULT_FRAME_SIZE > conn.out.length) {
      const bigger = new Uint8Array(conn.out.length * 2);
      bigger.set(conn.out.subarray(0, conn.length));
      conn.out = bigger;
    }
    conn.length = encodeResult(conn.out, conn.length, req, Status.ACCEPTED, auction, 1, 1);
  };
  const flush = (socket: Socket<Conn>) => {
    const conn = socket.data;
    if (conn.length === 0) return;
    const written = socket.write(conn.out, 0, conn.length);
    if (written <= 0) return;
    conn.out.copyWithin(0, written, conn.length);
    conn.length -= written;
  };
  const listener: TCPSocketListener<Conn> = Bun.listen<Conn>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const conn: Conn = {
          out: new Uint8Array(4096),
          length: 0,
          assembler: new FrameAssembler((type, bytes, payload) => {
            if (type !== FrameType.BID) return true;
            const req = readU32(bytes, payload);
            const auction = readU32(bytes, payload + 4);
            bids++;
            if (misbehaviour === "silent") return true;
            if (bids === VICTIM && misbehaviour === "drop") return true;
            reply(conn, req, auction);
            if (bids === VICTIM && misbehaviour === "duplicate") reply(conn, req, auction);
            if (bids === VICTIM && misbehaviour === "phantom") reply(conn, (req + 1_000_000) >>> 0, auction);
            return true;
          }),
        };
        socket.data = conn;
      },
      data(socket, chunk) {
        socket.data.assembler.push(chunk);
        flush(socket);
      },
      drain(socket) {
        flush(socket);
      },
    },
  });
  const admin = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === "POST" && url.pathname === "/v1/auctions") {
        const body = (await request.json()) as { id: number };
        return Response.json({ id: body.id }, { status: 201 });
      }
      return Response.json({ error: "no such auction" }, { status: 404 });
    },
  });
  return {
    port: listener.port,
    httpPort: admin.port!,
    stop() {
      listener.stop(true);
      void admin.stop(true);
    },
  };
}

describe("runLoad fails loudly when the server breaks exactly-once", () => {
  const run = (fake: FakeServer) =>
    runLoad({ port: fake.port, httpPort: fake.httpPort, connections: 2, window: 4, auctions: 3, bids: 400, warmupS: 0, graceS: 0.3, progress: false });

  test("a behaving fake server passes (the harness itself is sound)", async () => {
    const fake = startFakeServer("none");
    try {
      expectExactlyOnce(await run(fake));
    } finally {
      fake.stop();
    }
  });

  test("one dropped reply: reported unanswered, run not ok", async () => {
    const fake = startFakeServer("drop");
    try {
      const report = await run(fake);
      expect(report.ok).toBe(false);
      expect(report.totals.unanswered).toBe(1);
      expect(report.totals.answered).toBe(report.totals.sent - 1);
      expect(report.failures.join("\n")).toContain("never answered");
    } finally {
      fake.stop();
    }
  });

  test("one reply sent twice: reported duplicate, run not ok", async () => {
    const fake = startFakeServer("duplicate");
    try {
      const report = await run(fake);
      expect(report.ok).toBe(false);
      expect(report.totals.duplicates).toBe(1);
      expect(report.totals.unanswered).toBe(0);
      expect(report.failures.join("\n")).toContain("duplicates");
    } finally {
      fake.stop();
    }
  });

  test("a reply to a request never sent: reported, run not ok", async () => {
    const fake = startFakeServer("phantom");
    try {
      const report = await run(fake);
      expect(report.ok).toBe(false);
      expect(report.totals.neverSent).toBe(1);
      expect(report.failures.join("\n")).toContain("never sent");
    } finally {
      fake.stop();
    }
  });

  test("a server that stops answering ends a --bids run after the grace period, all reported", async () => {
    const fake = startFakeServer("silent");
    try {
      const report = await run(fake);
      expect(report.ok).toBe(false);
      expect(report.totals.sent).toBe(2 * 4);
      expect(report.totals.unanswered).toBe(2 * 4);
    } finally {
      fake.stop();
    }
  });

  test("the CLI exits 1 and says why on a dropped reply", async () => {
    const fake = startFakeServer("drop");
    try {
      const args = ["--port", `${fake.port}`, "--http-port", `${fake.httpPort}`, "-c", "2", "-w", "4", "--bids", "300", "--warmup", "0", "--grace", "0.3", "--json"];
      const proc = Bun.spawn([process.execPath, LOAD_CLI, ...args], { stdout: "pipe", stderr: "pipe" });
      const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      expect(code).toBe(1);
      const report = JSON.parse(stdout) as LoadReport;
      expect(report.ok).toBe(false);
      expect(report.totals.unanswered).toBe(1);
      expect(stderr).toContain("RUN FAILED");
    } finally {
      fake.stop();
    }
  });
});

// ---- The pieces ----------------------------------------------------------------------------

describe("Histogram", () => {
  test("percentiles keep three significant digits and merge across processes", () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let v = 1; v <= 100_000; v++) (v % 2 === 0 ? a : b).record(v);
    const merged = Histogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    merged.merge(b.toJSON());
    expect(merged.count).toBe(100_000);
    expect(merged.min).toBe(1);
    expect(merged.max).toBe(100_000);
    for (const [fraction, exact] of [[0.5, 50_000], [0.99, 99_000], [0.999, 99_900]] as const) {
      const value = merged.percentile(fraction);
      expect(Math.abs(value - exact) / exact).toBeLessThan(0.001);
    }
    expect(merged.percentile(0.001)).toBe(100); // exact below 2048
  });

  test("clamps huge and negative values instead of failing", () => {
    const h = new Histogram();
    h.record(-5);
    h.record(1e12);
    expect(h.count).toBe(2);
    expect(h.min).toBe(0);
    expect(h.max).toBe(0xffff_ffff);
  });
});

describe("Outstanding", () => {
  test("accepts each reply once, in any order; flags duplicates and strangers", () => {
    const o = new Outstanding(4);
    const reqs = [o.add(1, 7), o.add(2, 8), o.add(3, 9)];
    expect(reqs).toEqual([1, 2, 3]);
    const slot = o.complete(2);
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(o.sentAtOf(slot)).toBe(2);
    expect(o.auctionOf(slot)).toBe(8);
    expect(o.complete(2)).toBe(Reply.DUPLICATE);
    expect(o.complete(1)).toBeGreaterThanOrEqual(0);
    expect(o.complete(1)).toBe(Reply.DUPLICATE); // below the window now
    expect(o.complete(4)).toBe(Reply.NEVER_SENT);
    expect(o.complete(0)).toBe(Reply.DUPLICATE);
    expect(o.inFlight).toBe(1);
    expect(o.complete(3)).toBeGreaterThanOrEqual(0);
    expect(o.inFlight).toBe(0);
  });

  test("grows past its first capacity while an old request stays unanswered", () => {
    const o = new Outstanding(4);
    const first = o.add(0, 1);
    for (let i = 0; i < 1000; i++) expect(o.complete(o.add(i, 1))).toBeGreaterThanOrEqual(0);
    expect(o.inFlight).toBe(1);
    expect(o.complete(first)).toBeGreaterThanOrEqual(0);
    expect(o.inFlight).toBe(0);
    expect(o.abandoned).toBe(0);
  });

  test("memory stays bounded: past MAX_SPAN the oldest unanswered request is given up", () => {
    const o = new Outstanding(4);
    const first = o.add(0, 1);
    for (let i = 0; i < MAX_SPAN; i++) o.complete(o.add(i, 1));
    expect(o.abandoned).toBe(1);
    expect(o.inFlight).toBe(0);
    expect(o.complete(first)).toBe(Reply.DUPLICATE); // a reply after it was given up is still flagged
  });
});
