// `gavel bids`: an auction's bid history, newest first (GET /v1/auctions/:id/bids).

import type { BidJson, BidPage } from "../admin-api.ts";
import { FlagKind } from "../args.ts";
import type { Command } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { formatBidTable } from "../format.ts";
import { MAX_ID, parseId } from "../ids.ts";
import { followPages, MAX_PAGE } from "../paging.ts";

export const bidsCommand: Command = {
  name: "bids",
  summary: "an auction's accepted bids, newest first",
  positionals: ["<auction>"],
  flags: [
    { name: "limit", kind: FlagKind.VALUE, placeholder: "N", help: `bids per page (default 50, at most ${MAX_PAGE})` },
    { name: "before", kind: FlagKind.VALUE, placeholder: "SEQ", help: "only bids before this seq" },
    { name: "all", kind: FlagKind.SWITCH, help: "follow every next page, back to the first bid" },
  ],
  details: `One row per change of the price or leader; BY says who placed it: "bid" (the user's own
bid) or "max" (the user's maximum, bidding for them). With --json: {"bids": [{"seq", "amount",
"user", "at", "by"}, ...], "next": path or null}.`,
  async run({ args, output, admin }) {
    const id = parseId(args.positionals[0]!, "<auction>");
    const query = new URLSearchParams();
    const limit = args.integer("limit", 1, MAX_PAGE);
    if (limit !== undefined) query.set("limit", String(limit));
    const before = args.integer("before", 1, MAX_ID);
    if (before !== undefined) query.set("before", String(before));
    const bids: BidJson[] = [];
    let next: string | null = null;
    for await (const page of followPages<BidPage>(admin(), `/v1/auctions/${id}/bids${query.size > 0 ? `?${query}` : ""}`, args.has("all"))) {
      bids.push(...page.bids);
      next = page.next;
    }
    output.result({ bids, next }, () => {
      const last = bids.at(-1);
      const more = next !== null && last !== undefined ? `\nmore: gavel bids ${id} --before ${last.seq} (or --all)` : "";
      return formatBidTable(bids) + more;
    });
    return ExitCode.OK;
  },
};
