// The admin HTTP API as the CLI uses it (README "Admin API"): JSON in and out, the bearer token
// on every request, and failures turned into errors that say what to check.

import { ApiError, UnreachableError } from "./errors.ts";

/** An auction as the admin API writes it. */
export interface AuctionJson {
  id: number;
  title: string;
  phase: string;
  starting_price: number;
  min_increment: number;
  /** The increment table, or null (absent from older servers): min_increment at every price. */
  increments?: { from: number; step: number }[] | null;
  reserve: number;
  buy_now_price: number | null;
  starts_at: number;
  ends_at: number;
  anti_snipe_ms: number;
  max_ends_at: number | null;
  seq: number;
  amount: number;
  leader: number;
}

export interface AuctionPage {
  auctions: AuctionJson[];
  /** The next page's path, or null. */
  next: string | null;
}

export interface BidJson {
  seq: number;
  amount: number;
  user: number;
  at: number;
  /** "bid": the user's own bid; "max": the user's maximum bidding for them (absent from older servers). */
  by?: "bid" | "max";
}

export interface BidPage {
  bids: BidJson[];
  next: string | null;
}

/** A request with no answer this long is given up (the server is hung or a firewall drops it). */
export const REQUEST_TIMEOUT_MS = 10_000;
const HTTP_OK_MAX = 299;

export class AdminApi {
  constructor(
    /** e.g. http://127.0.0.1:7401, no trailing slash. */
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    const headers: Record<string, string> = {};
    if (this.token !== "") headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const why = (error as Error).name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message);
      throw new UnreachableError(
        `cannot reach the admin API at ${this.baseUrl} (${why}). Is the server running, and does --http ` +
          `name its admin address (the server's GAVEL_HOST and GAVEL_HTTP_PORT; https:// when it has GAVEL_TLS_CERT)?`,
        { cause: error },
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, `${method} ${url} answered ${response.status} with something that is not JSON: is --http the Gavel admin address?`);
    }
    if (response.status > HTTP_OK_MAX) {
      const error = (parsed as { error?: unknown }).error;
      const hint = response.status === 401 ? " (pass --token or set GAVEL_ADMIN_TOKEN)" : "";
      throw new ApiError(response.status, `${response.status}: ${typeof error === "string" ? error : text}${hint}`);
    }
    return parsed as T;
  }
}
