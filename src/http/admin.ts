// The admin HTTP API (Bun.serve): create and read auctions, health. See README.md.

import { auctionToJson } from "../auction/auction.ts";
import { parseNewAuction } from "../auction/new-auction.ts";
import type { Store } from "../store/store.ts";

export interface AdminOptions {
  host: string;
  port: number;
  /** When set, POST needs `Authorization: Bearer <token>`. */
  adminToken: string;
}

function json(status: number, body: unknown): Response {
  return Response.json(body, { status });
}

function problem(status: number, error: string): Response {
  return json(status, { error });
}

const AUCTION_PATH = /^\/v1\/auctions\/(\d+)$/;
const MAX_ID = 0xffff_ffff;

export function startAdminServer(options: AdminOptions, store: Store) {
  const authorized = (request: Request) =>
    options.adminToken === "" || request.headers.get("authorization") === `Bearer ${options.adminToken}`;

  return Bun.serve({
    hostname: options.host,
    port: options.port,
    async fetch(request) {
      const url = new URL(request.url);
      const path = url.pathname;

      if (path === "/healthz") return json(200, { ok: true, store: store.kind });

      if (path === "/v1/auctions") {
        if (request.method !== "POST") return problem(405, "use POST to create an auction");
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

      const match = AUCTION_PATH.exec(path);
      if (match !== null) {
        if (request.method !== "GET") return problem(405, "use GET to read an auction");
        const id = Number(match[1]);
        if (id < 1 || id > MAX_ID) return problem(404, `no auction ${match[1]}`);
        const auction = await store.getAuction(id);
        if (auction === null) return problem(404, `no auction ${id}`);
        return json(200, auctionToJson(auction, store.now()));
      }
      return problem(404, `no route ${request.method} ${path}`);
    },
    error(error) {
      return problem(503, `store error: ${error.message}`);
    },
  });
}
