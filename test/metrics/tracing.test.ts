// Tracing with OpenTelemetry: a real server process exports spans over OTLP/HTTP (JSON) to a
// local receiver standing in for a collector; without an endpoint it sends nothing at all.

import { afterEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { join } from "node:path";
import { Status } from "../../src/protocol/constants.ts";
import { SpanAttribute, SpanName } from "../../src/metrics/tracing.ts";
import { Bidder } from "../support/bidder.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { openAuction } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const ROOT = join(import.meta.dir, "../..");
const BIDS = 40;
/** Long enough for several closer runs (every 250 ms by default), each traced at ratio 1. */
const CLOSER_RUNS_MS = 600;
/** After the stop, how long the receiver may still be waiting for a request in flight. */
const SETTLE_MS = 300;

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  name: string;
  attributes: OtlpAttribute[];
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A stand-in OTLP/HTTP collector: keeps every POST /v1/traces body and its content type. */
class Receiver {
  readonly requests: { path: string; contentType: string | null; body: OtlpExport | null }[] = [];
  private readonly server: Server<undefined>;

  constructor() {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        const path = new URL(request.url).pathname;
        const contentType = request.headers.get("content-type");
        const text = await request.text();
        let body: OtlpExport | null = null;
        try {
          body = JSON.parse(text) as OtlpExport;
        } catch {
          body = null;
        }
        this.requests.push({ path, contentType, body });
        if (request.method !== "POST" || path !== "/v1/traces") return new Response("not found", { status: 404 });
        return Response.json({});
      },
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.port}`;
  }

  spans(): { resource: OtlpAttribute[]; span: OtlpSpan }[] {
    const out: { resource: OtlpAttribute[]; span: OtlpSpan }[] = [];
    for (const { body } of this.requests) {
      for (const rs of body?.resourceSpans ?? []) for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ resource: rs.resource.attributes, span });
    }
    return out;
  }

  stop(): void {
    this.server.stop(true);
  }
}

function attribute(attributes: OtlpAttribute[], key: string): string | number | undefined {
  const value = attributes.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  return value.intValue !== undefined ? Number(value.intValue) : value.stringValue;
}

/** Runs bids through a server process with these extra variables, then stops it with SIGTERM. */
async function bidThenStop(env: Record<string, string>): Promise<{ results: number[]; exit: number }> {
  let gavel: GavelProcess | null = null;
  let bidder: Bidder | null = null;
  try {
    gavel = await spawnGavel({ GAVEL_STORE: "memory", ...env });
    const created = await fetch(`${gavel.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction()) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: number };
    bidder = await Bidder.connect(gavel.port, id);
    const results = (await bidder.send(BIDS)).map((r) => r.status);
    await Bun.sleep(CLOSER_RUNS_MS);
    bidder.close();
    bidder = null;
    const exit = await gavel.kill("SIGTERM");
    gavel = null;
    return { results, exit };
  } finally {
    bidder?.close();
    await gavel?.kill("SIGKILL");
  }
}

/** The OTEL_* variables cleared, so the runner's own environment cannot turn tracing on. */
const NO_OTEL = {
  OTEL_EXPORTER_OTLP_ENDPOINT: "",
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
  OTEL_EXPORTER_OTLP_PROTOCOL: "",
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "",
  OTEL_SERVICE_NAME: "",
  OTEL_SDK_DISABLED: "",
};

let receiver: Receiver | null = null;
afterEach(() => {
  receiver?.stop();
  receiver = null;
});

describe("tracing", () => {
  test("with OTEL_EXPORTER_OTLP_ENDPOINT and GAVEL_TRACE_SAMPLE=1, the collector gets a span per batch and per closer run, flushed on stop", async () => {
    receiver = new Receiver();
    const { results, exit } = await bidThenStop({ ...NO_OTEL, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, GAVEL_TRACE_SAMPLE: "1" });
    expect(exit).toBe(0);
    expect(results).toEqual(Array(BIDS).fill(Status.ACCEPTED));
    await Bun.sleep(SETTLE_MS);

    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const request of receiver.requests) {
      expect(request.path).toBe("/v1/traces");
      expect(request.contentType).toBe("application/json");
    }
    const spans = receiver.spans();
    const batches = spans.filter((s) => s.span.name === SpanName.APPLY_BIDS);
    expect(batches.length).toBeGreaterThan(0);
    // Every bid went to the store in exactly one traced batch, and every one was accepted.
    const sizes = batches.map((b) => attribute(b.span.attributes, SpanAttribute.BATCH_SIZE) as number);
    for (const size of sizes) expect(size).toBeGreaterThan(0);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(BIDS);
    const accepted = batches.map((b) => (attribute(b.span.attributes, `${SpanAttribute.RESULT_PREFIX}accepted`) as number | undefined) ?? 0);
    expect(accepted.reduce((a, b) => a + b, 0)).toBe(BIDS);
    expect(attribute(batches[0]!.span.attributes, SpanAttribute.STORE_KIND)).toBe("memory");
    expect(attribute(batches[0]!.resource, "service.name")).toBe("gavel");
    expect(spans.some((s) => s.span.name === SpanName.CLOSE_DUE)).toBe(true);
  });

  test("OTEL_SERVICE_NAME names the service and OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given", async () => {
    receiver = new Receiver();
    await bidThenStop({ ...NO_OTEL, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_SERVICE_NAME: "gavel-eu", GAVEL_TRACE_SAMPLE: "1" });
    await Bun.sleep(SETTLE_MS);
    const batches = receiver.spans().filter((s) => s.span.name === SpanName.APPLY_BIDS);
    expect(batches.length).toBeGreaterThan(0);
    expect(attribute(batches[0]!.resource, "service.name")).toBe("gavel-eu");
  });

  test("GAVEL_TRACE_SAMPLE=0 starts tracing but sends no batch span", async () => {
    receiver = new Receiver();
    const { results } = await bidThenStop({ ...NO_OTEL, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, GAVEL_TRACE_SAMPLE: "0" });
    expect(results).toEqual(Array(BIDS).fill(Status.ACCEPTED));
    await Bun.sleep(SETTLE_MS);
    expect(receiver.spans()).toEqual([]);
  });

  test("without an endpoint no request reaches the collector", async () => {
    receiver = new Receiver();
    // The ratio alone turns nothing on; the receiver listens where a default would point.
    const { results, exit } = await bidThenStop({ ...NO_OTEL, GAVEL_TRACE_SAMPLE: "1" });
    expect(exit).toBe(0);
    expect(results).toEqual(Array(BIDS).fill(Status.ACCEPTED));
    await Bun.sleep(SETTLE_MS);
    expect(receiver.requests).toEqual([]);
  });

  test("without an endpoint the OpenTelemetry packages are never loaded", async () => {
    // A fresh process: the modules a server start loads, with tracing off. prom-client carries
    // its own copy of @opentelemetry/api under its folder; Gavel's are the top-level ones.
    const script = `
      const { loadConfig } = await import(${JSON.stringify(`${ROOT}/src/config.ts`)});
      const { startServer } = await import(${JSON.stringify(`${ROOT}/src/server.ts`)});
      const server = await startServer(loadConfig({ GAVEL_STORE: "memory", GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", GAVEL_LOG_LEVEL: "silent", GAVEL_SHUTDOWN_GRACE_MS: "0", GAVEL_SHUTDOWN_LINGER_MS: "0" }));
      const ours = Object.keys(require.cache).filter((path) => path.startsWith(${JSON.stringify(`${ROOT}/node_modules/@opentelemetry/`)}));
      const all = Object.keys(require.cache).filter((path) => path.includes("/node_modules/"));
      await server.stop();
      console.log(JSON.stringify({ ours, all: all.length }));
    `;
    const proc = Bun.spawn(["bun", "-e", script], { cwd: ROOT, env: { ...process.env, ...NO_OTEL }, stdout: "pipe", stderr: "pipe" });
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(0);
    const { ours, all } = JSON.parse(stdout.trim().split("\n").at(-1)!) as { ours: string[]; all: number };
    // The listing works (other packages are there), and none of them is OpenTelemetry's SDK.
    expect(all).toBeGreaterThan(0);
    expect(ours).toEqual([]);
  });

  test("a collector that is down does not slow bids or hold the stop past its bound", async () => {
    const down = new Receiver();
    const url = down.url;
    down.stop();
    const started = performance.now();
    const { results, exit } = await bidThenStop({ ...NO_OTEL, OTEL_EXPORTER_OTLP_ENDPOINT: url, GAVEL_TRACE_SAMPLE: "1" });
    expect(exit).toBe(0);
    expect(results).toEqual(Array(BIDS).fill(Status.ACCEPTED));
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
