// The admin HTTP API (Bun.serve): create, read, list and cancel auctions, their bid history,
// liveness and readiness. See README.md ("Admin API"). With GAVEL_ADMIN_PORT the admin routes
// (isAdminRoute) move to a listener of their own and the HTTP port keeps the public ones.

import type { Server } from "bun";
import { auctionToJson, StepBy } from "../auction/auction.ts";
import { parseNewAuction } from "../auction/new-auction.ts";
import { Phase } from "../protocol/constants.ts";
import { redact } from "../log/redact.ts";
import type { ClosedAuction, Store } from "../store/store.ts";
import { AdminToken } from "./admin-token.ts";
import { StoreRefusedError, StoreUnconfirmedError } from "../store/errors.ts";
import type { LogSink } from "../log/log-sink.ts";

export interface AdminOptions {
  host: string;
  port: number;
  /**
   * GAVEL_ADMIN_HOST / GAVEL_ADMIN_PORT: serve the admin routes on this listener only (each one
   * needing the token, when there is one); null: every route on `port`, the token on writes.
   */
  adminListener?: { host: string; port: number } | null;
  /** When set, every write needs `Authorization: Bearer <token>`. */
  adminToken: string;
  /** Several worker processes share the port (Linux SO_REUSEPORT). */
  reusePort: boolean;
  /** PEM certificate and key: serve HTTPS (and wss:// on the gateway); null for plain HTTP. */
  tls?: { cert: string; key: string } | null;
}

export interface AdminHooks {
  /** Told about an auction a cancel closed (in-process stores fan CLOSED out from here). */
  onCancelled(closed: ClosedAuction): void;
  /**
   * Extra routes served beside the API (the WebSocket gateway, the live page): a Response,
   * null when the request was upgraded to a WebSocket, undefined when the route is not theirs.
   */
  extraFetch?(request: Request, server: Server<unknown>): Response | null | undefined | Promise<Response | null | undefined>;
  websocket?: Bun.WebSocketHandler<unknown>;
  /** True once the server is stopping: /readyz answers 503 from then on. */
  shuttingDown?(): boolean;
  /** Where a failed request's own error, and auctions created and cancelled, go. Default console.warn. */
  log?: LogSink;
  /** What GET /metrics serves (a prom-client Registry); absent or null: /metrics is 404 (GAVEL_METRICS=off). */
  metrics?: MetricsExposition | null;
}

/** The Prometheus text of the server's metrics. */
export interface MetricsExposition {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** The listeners started: the HTTP port, and the admin port when it is separate. */
export interface AdminListeners {
  readonly port: number;
  /** null when the admin API is served on `port`. */
  readonly adminPort: number | null;
  stop(closeActiveConnections: boolean): Promise<void>;
}

const MAX_ID = 0xffff_ffff;
const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const PHASES: Record<string, Phase> = { scheduled: Phase.SCHEDULED, open: Phase.OPEN, closed: Phase.CLOSED };

/** Seconds a client is told to wait (Retry-After) when the store cannot answer. */
const STORE_RETRY_AFTER_S = 1;
/** Failed requests are logged at most once per this interval: an outage must not flood the log. */
const FAILURE_LOG_INTERVAL_MS = 10_000;
const STORE_UNAVAILABLE = "the store is unavailable; retry later";
/**
 * A write the store took but could not confirm in time (Redis WAIT reached too few replicas):
 * it may or may not survive a failover, so a blind retry could make a second auction.
 */
const WRITE_UNCONFIRMED = "the store did not confirm the write in time: it may or may not have been kept; read it back before retrying";

const AUCTION = /^\/v1\/auctions\/(\d+)$/;
const AUCTION_BIDS = /^\/v1\/auctions\/(\d+)\/bids$/;
const AUCTION_CANCEL = /^\/v1\/auctions\/(\d+)\/cancel$/;
/** Served on the admin listener alone when there is one: the metrics. */
const ADMIN_ONLY_PATHS: ReadonlySet<string> = new Set(["/metrics"]);

/**
 * The routes that move to the admin listener when GAVEL_ADMIN_PORT is set: every write, the
 * listing, the bid history and the metrics. The rest stay public on the HTTP port: /healthz,
 * /readyz, `GET /v1/auctions/:id` (the live page reads it), the page and /ws.
 */
export function isAdminRoute(path: string): boolean {
  return path === "/v1/auctions" || ADMIN_ONLY_PATHS.has(path) || AUCTION_BIDS.test(path) || AUCTION_CANCEL.test(path);
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

function problem(status: number, error: string): Response {
  return json(status, { error });
}

/** Parses a non-negative whole-number query parameter; a string is an error message. */
function queryNumber(url: URL, name: string, fallback: number, max: number): number | string {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max) return `${name} must be a whole number up to ${max}`;
  return Number(raw);
}

function auctionId(raw: string): number | null {
  const id = Number(raw);
  return id >= 1 && id <= MAX_ID ? id : null;
}

/** The error and its cause, one line, passwords removed: for the server's log only. */
function describeFailure(error: Error): string {
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return redact(`${error.message}${cause}`);
}

export function startAdminServer(options: AdminOptions, store: Store, hooks: AdminHooks): AdminListeners {
  const adminToken = new AdminToken(options.adminToken);
  const authorized = (request: Request) => adminToken.allows(request.headers.get("authorization"));
  const log: LogSink = hooks.log ?? ((message: string) => console.warn(message));

  let lastFailureLogAt = -Infinity;
  let failuresNotLogged = 0;
  const logFailure = (error: Error) => {
    const now = Date.now();
    if (now - lastFailureLogAt < FAILURE_LOG_INTERVAL_MS) {
      failuresNotLogged++;
      return;
    }
    const more = failuresNotLogged > 0 ? ` (and ${failuresNotLogged} more failed since the last report)` : "";
    lastFailureLogAt = now;
    failuresNotLogged = 0;
    log(`gavel: an admin request failed, answered 503: ${describeFailure(error)}${more}`);
  };

  /** 200 while the store answers (and, on Redis, the update feed is live) and the server is not stopping. */
  function readiness(): Response {
    const reason = hooks.shuttingDown?.() ? "the server is shutting down" : store.unavailableReason();
    return reason === null ? json(200, { ready: true }) : json(503, { ready: false, reason });
  }

  async function createAuction(request: Request): Promise<Response> {
    if (!authorized(request)) return problem(401, "missing or wrong admin token");
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return problem(400, "body is not valid JSON");
    }
    const parsed = parseNewAuction(body, store.now());
    if (!parsed.ok) return problem(400, parsed.error);
    const result = await store.createAuction(parsed.spec);
    if (!result.created) return problem(409, `auction ${parsed.spec.id} already exists`);
    log(`gavel: auction ${result.auction.id} created`, { level: "info", event: "auction_created", auction: result.auction.id, ends_at: result.auction.endsAt });
    return json(201, auctionToJson(result.auction, store.now()));
  }

  async function listAuctions(url: URL): Promise<Response> {
    const phaseName = url.searchParams.get("phase");
    const phase = phaseName === null ? null : PHASES[phaseName];
    if (phase === undefined) return problem(400, "phase must be scheduled, open or closed");
    const limit = queryNumber(url, "limit", DEFAULT_PAGE, MAX_PAGE);
    const after = queryNumber(url, "after", 0, MAX_ID);
    if (typeof limit === "string") return problem(400, limit);
    if (typeof after === "string") return problem(400, after);
    const page = await store.listAuctions(phase, after, Math.max(limit, 1));
    const now = store.now();
    const last = page.at(-1);
    return json(200, {
      auctions: page.map((a) => auctionToJson(a, now)),
      next: page.length >= limit && last !== undefined ? `/v1/auctions?${phaseName ? `phase=${phaseName}&` : ""}after=${last.id}&limit=${limit}` : null,
    });
  }

  async function listBids(id: number, url: URL): Promise<Response> {
    const auction = await store.getAuction(id);
    if (auction === null) return problem(404, `no auction ${id}`);
    const limit = queryNumber(url, "limit", DEFAULT_PAGE, MAX_PAGE);
    const before = queryNumber(url, "before", auction.seq + 1, MAX_ID);
    if (typeof limit === "string") return problem(400, limit);
    if (typeof before === "string") return problem(400, before);
    const entries = await store.historyNewestFirst(id, before, Math.max(limit, 1));
    const last = entries.at(-1);
    return json(200, {
      // Field by field: nothing else of the store's (a hidden maximum) may reach the page.
      bids: entries.map((e) => ({ seq: e.seq, amount: e.amount, user: e.user, at: e.at, by: e.by === StepBy.MAX ? "max" : "bid" })),
      next: last !== undefined && last.seq > 1 && entries.length >= limit ? `/v1/auctions/${id}/bids?before=${last.seq}&limit=${limit}` : null,
    });
  }

  async function cancel(request: Request, id: number): Promise<Response> {
    if (!authorized(request)) return problem(401, "missing or wrong admin token");
    const result = await store.cancel(id);
    if (!result.cancelled) {
      return result.reason === "unknown" ? problem(404, `no auction ${id}`) : problem(409, `auction ${id} has already ended`);
    }
    hooks.onCancelled(result.closed);
    log(`gavel: auction ${id} cancelled`, { level: "info", event: "auction_cancelled", auction: id });
    const auction = await store.getAuction(id);
    return json(200, auctionToJson(auction!, store.now()));
  }

  async function route(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    // Liveness: the process serves HTTP. Whether it can do its work is /readyz.
    if (path === "/healthz") return json(200, { ok: true, store: store.kind, pid: process.pid });
    if (path === "/readyz") return readiness();
    if (path === "/metrics" && method === "GET" && hooks.metrics) {
      if (!authorized(request)) return problem(401, "missing or wrong admin token");
      return new Response(await hooks.metrics.metrics(), { headers: { "content-type": hooks.metrics.contentType } });
    }
    if (path === "/v1/auctions") {
      if (method === "POST") return createAuction(request);
      if (method === "GET") return listAuctions(url);
      return problem(405, "use GET or POST");
    }
    let match = AUCTION.exec(path);
    if (match !== null) {
      if (method !== "GET") return problem(405, "use GET to read an auction");
      const id = auctionId(match[1]!);
      const auction = id === null ? null : await store.getAuction(id);
      if (auction === null) return problem(404, `no auction ${match[1]}`);
      return json(200, auctionToJson(auction, store.now()));
    }
    match = AUCTION_BIDS.exec(path);
    if (match !== null) {
      if (method !== "GET") return problem(405, "use GET to read the bids");
      const id = auctionId(match[1]!);
      return id === null ? problem(404, `no auction ${match[1]}`) : listBids(id, url);
    }
    match = AUCTION_CANCEL.exec(path);
    if (match !== null) {
      if (method !== "POST") return problem(405, "use POST to cancel");
      const id = auctionId(match[1]!);
      return id === null ? problem(404, `no auction ${match[1]}`) : cancel(request, id);
    }
    return problem(404, `no route ${method} ${path}`);
  }

  const serve = (host: string, port: number, fetch: (request: Request, server: Server<unknown>) => Promise<Response | undefined>) =>
    Bun.serve({
      hostname: host,
      port,
      reusePort: options.reusePort,
      tls: options.tls ?? undefined,
      websocket: hooks.websocket,
      fetch,
      // A request fails only when the store does (its one I/O). The client is told what it can
      // do; the library's own words, which may name internals, go to the log.
      error(error: Error) {
        // Gavel's own words, written for the operator: they say what to fix.
        if (error instanceof StoreRefusedError) {
          return Response.json({ error: error.message, retry_after_s: STORE_RETRY_AFTER_S }, { status: 503, headers: { "retry-after": String(STORE_RETRY_AFTER_S) } });
        }
        logFailure(error);
        if (error instanceof StoreUnconfirmedError) {
          return Response.json({ error: WRITE_UNCONFIRMED, retry_after_s: STORE_RETRY_AFTER_S }, { status: 503, headers: { "retry-after": String(STORE_RETRY_AFTER_S) } });
        }
        return Response.json(
          { error: STORE_UNAVAILABLE, retry_after_s: STORE_RETRY_AFTER_S },
          { status: 503, headers: { "retry-after": String(STORE_RETRY_AFTER_S) } },
        );
      },
    } as Parameters<typeof Bun.serve>[0]);

  const separate = options.adminListener ?? null;
  const publicServer = serve(options.host, options.port, async (request, server) => {
    const extra = await hooks.extraFetch?.(request, server);
    if (extra === null) return undefined; // upgraded: Bun answers the handshake
    if (extra !== undefined) return extra;
    const url = new URL(request.url);
    // The admin routes live on the admin listener: here they do not exist.
    if (separate !== null && isAdminRoute(url.pathname)) return problem(404, `no route ${request.method} ${url.pathname}`);
    return route(request, url);
  });
  const adminServer =
    separate === null
      ? null
      : serve(separate.host, separate.port, async (request) => {
          const url = new URL(request.url);
          if (!isAdminRoute(url.pathname)) return problem(404, `no route ${request.method} ${url.pathname} on the admin port`);
          // On its own listener every admin route, reads too, needs the token when one is set.
          if (!authorized(request)) return problem(401, "missing or wrong admin token");
          return route(request, url);
        });

  return {
    port: publicServer.port ?? options.port,
    adminPort: adminServer === null ? null : (adminServer.port ?? separate!.port),
    async stop(closeActiveConnections: boolean) {
      await Promise.all([publicServer.stop(closeActiveConnections), adminServer?.stop(closeActiveConnections)]);
    },
  } satisfies AdminListeners;
}
