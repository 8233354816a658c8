// The admin HTTP API (Bun.serve): create, read, list and cancel auctions, their bid history,
// health. See README.md ("Admin API").

import type { Server } from "bun";
import { auctionToJson } from "../auction/auction.ts";
import { parseNewAuction } from "../auction/new-auction.ts";
import { Phase } from "../protocol/constants.ts";
import type { ClosedAuction, Store } from "../store/store.ts";
import { AuctionIdsExhaustedError } from "../store/errors.ts";

export interface AdminOptions {
  host: string;
  port: number;
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
}

const MAX_ID = 0xffff_ffff;
const DEFAULT_PAGE = 50;
const MAX_PAGE = 500;
const PHASES: Record<string, Phase> = { scheduled: Phase.SCHEDULED, open: Phase.OPEN, closed: Phase.CLOSED };

const AUCTION = /^\/v1\/auctions\/(\d+)$/;
const AUCTION_BIDS = /^\/v1\/auctions\/(\d+)\/bids$/;
const AUCTION_CANCEL = /^\/v1\/auctions\/(\d+)\/cancel$/;

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

export function startAdminServer(options: AdminOptions, store: Store, hooks: AdminHooks) {
  const authorized = (request: Request) =>
    options.adminToken === "" || request.headers.get("authorization") === `Bearer ${options.adminToken}`;

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
      bids: entries.map((e) => ({ seq: e.seq, amount: e.amount, user: e.user, at: e.at })),
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
    const auction = await store.getAuction(id);
    return json(200, auctionToJson(auction!, store.now()));
  }

  async function route(request: Request, url: URL): Promise<Response> {
    const path = url.pathname;
    const method = request.method;
    if (path === "/healthz") return json(200, { ok: true, store: store.kind, pid: process.pid });
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

  return Bun.serve({
    hostname: options.host,
    port: options.port,
    reusePort: options.reusePort,
    tls: options.tls ?? undefined,
    websocket: hooks.websocket,
    async fetch(request, server) {
      const extra = await hooks.extraFetch?.(request, server);
      if (extra === null) return undefined; // upgraded: Bun answers the handshake
      if (extra !== undefined) return extra;
      return route(request, new URL(request.url));
    },
    error(error) {
      if (error instanceof AuctionIdsExhaustedError) return problem(503, error.message);
      return problem(503, `store error: ${error.message}`);
    },
  } as Parameters<typeof Bun.serve>[0]);
}
