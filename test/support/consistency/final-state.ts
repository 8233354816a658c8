// What the store holds once a run is over (the auctions' final state, with their whole bid
// history), and the two ways to read it: from a running server's admin API, or straight from a
// store. The consistency check (check.ts) compares it with what clients saw (client-log.ts).

import { Phase } from "../../../src/protocol/constants.ts";
import type { Store } from "../../../src/store/store.ts";
import { phaseAt } from "../../../src/auction/auction.ts";

/** One accepted bid in the store's history. */
export interface FinalHistoryEntry {
  seq: number;
  amount: number;
  user: number;
  /** The auction's ends_at after this bid, when the source tells (the admin API does not). */
  endsAt?: number;
}

/** One auction as the store holds it once the run is over. */
export interface FinalAuction {
  id: number;
  seq: number;
  amount: number;
  leader: number;
  /** Ended: closed by the closer or cancel, or past its ends_at. */
  closed: boolean;
  /** The closing step's decision; null when the source does not tell (then it is derived). */
  winner: number | null;
  /** Closed by cancel: no sale whatever the bids. */
  cancelled?: boolean;
  /** The spec, when known: it sharpens the checks (winner, buy-now, OUTBID). */
  reserve?: number;
  buyNowPrice?: number;
  startingPrice?: number;
  minIncrement?: number;
  /** Every accepted bid, oldest first. */
  history: FinalHistoryEntry[];
}

export type FinalState = readonly FinalAuction[] | ReadonlyMap<number, FinalAuction>;

/** The admin API's page size for bid history (its maximum). */
const HISTORY_PAGE = 500;
/** Reads of an auction that moved between its state and its history before giving up. */
const SNAPSHOT_ATTEMPTS = 5;

export interface FetchOptions {
  /** Auctions the test cancelled: their CLOSED carries no sale. */
  cancelled?: Iterable<number>;
  adminToken?: string;
}

interface AuctionJson {
  id: number;
  phase: string;
  seq: number;
  amount: number;
  leader: number;
  reserve: number;
  buy_now_price: number | null;
  starting_price: number;
  min_increment: number;
}

/**
 * Reads each auction's final state from a running server's admin API: GET /v1/auctions/:id and
 * its whole bid history (GET /v1/auctions/:id/bids, newest first, paged). The API does not tell
 * the winner: `winner` is null and the check derives it from the reserve. Call it once the run
 * is quiet; an auction still moving is re-read a few times, then reported as it was.
 */
export async function fetchFinalState(httpUrl: string, ids: Iterable<number>, options: FetchOptions = {}): Promise<FinalAuction[]> {
  const cancelled = new Set(options.cancelled ?? []);
  const headers: Record<string, string> = options.adminToken ? { authorization: `Bearer ${options.adminToken}` } : {};
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(httpUrl + path, { headers });
    if (response.status !== 200) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const out: FinalAuction[] = [];
  for (const id of ids) {
    let auction: FinalAuction | null = null;
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const state = await get<AuctionJson>(`/v1/auctions/${id}`);
      const history: FinalHistoryEntry[] = [];
      let next: string | null = `/v1/auctions/${id}/bids?before=${state.seq + 1}&limit=${HISTORY_PAGE}`;
      while (next !== null) {
        const page: { bids: FinalHistoryEntry[]; next: string | null } = await get(next);
        for (const b of page.bids) history.push({ seq: b.seq, amount: b.amount, user: b.user });
        next = page.next;
      }
      history.reverse();
      auction = {
        id,
        seq: state.seq,
        amount: state.amount,
        leader: state.leader,
        closed: state.phase === "closed",
        winner: null,
        cancelled: cancelled.has(id),
        reserve: state.reserve,
        buyNowPrice: state.buy_now_price ?? 0,
        startingPrice: state.starting_price,
        minIncrement: state.min_increment,
        history,
      };
      const again = await get<AuctionJson>(`/v1/auctions/${id}`);
      if (again.seq === state.seq && again.phase === state.phase) break;
    }
    out.push(auction!);
  }
  return out;
}

/** Reads each auction's final state straight from a store (store-level tests). */
export async function finalStateFromStore(store: Store, ids: Iterable<number>, options: { cancelled?: Iterable<number> } = {}): Promise<FinalAuction[]> {
  const cancelled = new Set(options.cancelled ?? []);
  const out: FinalAuction[] = [];
  for (const id of ids) {
    const state = await store.getAuction(id);
    if (state === null) throw new Error(`the store has no auction ${id}`);
    const history: FinalHistoryEntry[] = [];
    for (;;) {
      const page = await store.history(id, history.at(-1)?.seq ?? 0, HISTORY_PAGE);
      for (const e of page) history.push({ seq: e.seq, amount: e.amount, user: e.user, endsAt: e.endsAt });
      if (page.length < HISTORY_PAGE) break;
    }
    out.push({
      id,
      seq: state.seq,
      amount: state.amount,
      leader: state.leader,
      closed: state.closed || phaseAt(state, store.now()) === Phase.CLOSED,
      // The winner is decided only by the closing step; before it runs it is not known.
      winner: state.closed ? state.winner : null,
      cancelled: cancelled.has(id),
      reserve: state.reserve,
      buyNowPrice: state.buyNowPrice,
      startingPrice: state.startingPrice,
      minIncrement: state.minIncrement,
      history,
    });
  }
  return out;
}
