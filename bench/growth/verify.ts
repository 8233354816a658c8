// A quick check that a server reads the loaded data as the plan says: one closed, one open and
// one scheduled auction field by field, the open one's newest bid, and the first ids of each
// phase's listing. A loader that wrote a layout the store does not read fails the benchmark
// here, loudly, instead of producing figures about the wrong data.

import type { SpawnedServer } from "../load/spawn.ts";
import { plannedAuction, plannedBid, type GrowthPlan, type PlannedAuction } from "./plan.ts";

/** Ids compared at the head of each phase's listing. */
const LISTED = 5;

interface AuctionJson {
  id: number;
  title: string;
  phase: string;
  starting_price: number;
  starts_at: number;
  ends_at: number;
  seq: number;
  amount: number;
  leader: number;
}

function phaseOf(a: PlannedAuction): string {
  return a.closed ? "closed" : a.scheduled ? "scheduled" : "open";
}

async function getJson<T>(server: SpawnedServer, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${server.httpPort}${path}`);
  if (!response.ok) throw new Error(`read-back check: GET ${path} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

function expectEqual(what: string, got: unknown, want: unknown): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`read-back check: ${what}: the server says ${JSON.stringify(got)}, the loader wrote ${JSON.stringify(want)}`);
  }
}

/** Throws when the server disagrees with the plan; returns a one-line summary of what it checked. */
export async function verifyLoaded(server: SpawnedServer, plan: GrowthPlan): Promise<string> {
  const first: Record<string, number[]> = { closed: [], open: [], scheduled: [] };
  for (let id = 1; id <= plan.auctions && Object.values(first).some((ids) => ids.length < LISTED); id++) {
    const ids = first[phaseOf(plannedAuction(plan, id))]!;
    if (ids.length < LISTED) ids.push(id);
  }
  let checked = 0;
  for (const [phase, ids] of Object.entries(first)) {
    const id = ids[0];
    if (id === undefined) continue;
    const want = plannedAuction(plan, id);
    const got = await getJson<AuctionJson>(server, `/v1/auctions/${id}`);
    const pick = (a: AuctionJson) => [a.id, a.title, a.phase, a.starting_price, a.starts_at, a.ends_at, a.seq, a.amount, a.leader];
    expectEqual(`auction ${id}`, pick(got), [id, want.title, phase, want.startingPrice, want.startsAt, want.endsAt, want.seq, want.amount, want.leader]);
    if (want.seq > 0) {
      const { bids } = await getJson<{ bids: { seq: number; amount: number; user: number; at: number }[] }>(server, `/v1/auctions/${id}/bids?limit=1`);
      const newest = plannedBid(want, want.seq);
      expectEqual(`auction ${id}'s newest bid`, bids[0], { seq: newest.seq, amount: newest.amount, user: newest.user, at: newest.at, by: "bid" });
    }
    const { auctions } = await getJson<{ auctions: AuctionJson[] }>(server, `/v1/auctions?phase=${phase}&limit=${LISTED}`);
    expectEqual(`the first ${phase} ids listed`, auctions.map((a) => a.id), ids);
    checked++;
  }
  return `read back through the server as loaded: one auction and the first ${LISTED} listed of each of ${checked} phases`;
}
