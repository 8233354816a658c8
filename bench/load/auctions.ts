// Creates the auctions a run bids on, through the admin API, with explicit ids.
//
// Reruns against a server that keeps its data (SQLite, Redis) would find their auctions taken,
// and with high bids from the last run that would turn every rising bid into OUTBID. So a run
// always bids on auctions it created itself: it skips whole blocks of `count` ids that an earlier
// run took (one GET per block), and any single id that still answers 409 is skipped too.

/** Ids are u32 and never 0. */
const MAX_AUCTION_ID = 0xffff_ffff;
/** POSTs in flight while creating auctions. */
const CREATE_CONCURRENCY = 32;
/** Blocks probed before giving up: far more reruns than anyone does against one server. */
const MAX_BLOCK_PROBES = 10_000;
const HTTP_CREATED = 201;
const HTTP_CONFLICT = 409;
const HTTP_OK = 200;

export interface CreatedAuctions {
  ids: number[];
  /** Ids that were already taken (409) and skipped. */
  skipped: number;
}

export interface AuctionFields {
  endsAt: number;
  startingPrice?: number;
  minIncrement?: number;
}

/** Creates `count` open auctions with fresh ids at or after `base`. */
export async function createAuctions(httpUrl: string, count: number, base: number, fields: AuctionFields): Promise<CreatedAuctions> {
  let start = base;
  for (let probe = 0; probe < MAX_BLOCK_PROBES; probe++) {
    const response = await fetch(`${httpUrl}/v1/auctions/${start}`);
    await response.arrayBuffer();
    if (response.status !== HTTP_OK) break;
    start += count;
  }

  const ids: number[] = [];
  let nextId = start;
  let skipped = 0;
  const body = (id: number) =>
    JSON.stringify({
      id,
      ends_at: fields.endsAt,
      ...(fields.startingPrice !== undefined ? { starting_price: fields.startingPrice } : {}),
      ...(fields.minIncrement !== undefined ? { min_increment: fields.minIncrement } : {}),
    });

  let pending = 0; // POSTs in flight: each may become one of the `count`
  const worker = async () => {
    while (ids.length + pending < count) {
      const id = nextId++;
      if (id > MAX_AUCTION_ID) throw new Error(`auction ids ran past ${MAX_AUCTION_ID}: lower --auction-base`);
      pending++;
      try {
        const response = await fetch(`${httpUrl}/v1/auctions`, { method: "POST", body: body(id) });
        const text = await response.text();
        if (response.status === HTTP_CREATED) ids.push(id);
        else if (response.status === HTTP_CONFLICT) skipped++;
        else throw new Error(`creating auction ${id}: HTTP ${response.status} ${text}`);
      } finally {
        pending--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CREATE_CONCURRENCY, count) }, worker));
  ids.sort((a, b) => a - b);
  return { ids, skipped };
}
