// `gavel get`, `gavel list` and `gavel cancel`: reading and ending auctions through the admin API.

import type { AuctionJson, AuctionPage } from "../admin-api.ts";
import { FlagKind } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { ExitCode } from "../exit-codes.ts";
import { formatAuction, formatAuctionTable } from "../format.ts";
import { MAX_ID, parseId } from "../ids.ts";
import { followPages, MAX_PAGE } from "../paging.ts";

const PHASES = ["open", "scheduled", "closed"] as const;

export const getCommand: Command = {
  name: "get",
  summary: "show an auction",
  positionals: ["<auction>"],
  flags: [],
  async run({ args, output, admin }) {
    const id = parseId(args.positionals[0]!, "<auction>");
    const auction = await admin().get<AuctionJson>(`/v1/auctions/${id}`);
    output.result(auction, () => formatAuction(auction, Date.now()));
    return ExitCode.OK;
  },
};

export const listCommand: Command = {
  name: "list",
  summary: "list auctions, by id",
  positionals: [],
  flags: [
    { name: "phase", kind: FlagKind.VALUE, placeholder: PHASES.join("|"), help: "only auctions in this phase" },
    { name: "limit", kind: FlagKind.VALUE, placeholder: "N", help: `auctions per page (default 50, at most ${MAX_PAGE})` },
    { name: "after", kind: FlagKind.VALUE, placeholder: "ID", help: "start after this id (the previous page's last)" },
    { name: "all", kind: FlagKind.SWITCH, help: "follow every next page" },
  ],
  details: `Without --all, one page; the next one is "gavel list --after <last id>".
With --json: {"auctions": [...], "next": path or null}.`,
  async run({ args, output, admin }) {
    const query = new URLSearchParams();
    const phase = args.text("phase");
    if (phase !== undefined) {
      if (!(PHASES as readonly string[]).includes(phase)) throw new UsageError(`--phase must be one of ${PHASES.join(", ")}, not "${phase}"`);
      query.set("phase", phase);
    }
    const limit = args.integer("limit", 1, MAX_PAGE);
    if (limit !== undefined) query.set("limit", String(limit));
    const after = args.integer("after", 0, MAX_ID);
    if (after !== undefined) query.set("after", String(after));
    const api = admin();
    const pages = followPages<AuctionPage>(api, `/v1/auctions${query.size > 0 ? `?${query}` : ""}`, args.has("all"));
    const auctions: AuctionJson[] = [];
    let next: string | null = null;
    for await (const page of pages) {
      auctions.push(...page.auctions);
      next = page.next;
    }
    output.result({ auctions, next }, () => {
      const last = auctions.at(-1);
      const more = next !== null && last !== undefined ? `\nmore: gavel list --after ${last.id}${phase ? ` --phase ${phase}` : ""} (or --all)` : "";
      return formatAuctionTable(auctions) + more;
    });
    return ExitCode.OK;
  },
};

export const cancelCommand: Command = {
  name: "cancel",
  summary: "end an auction now, with no sale",
  positionals: ["<auction>"],
  flags: [],
  details: "Subscribers get CLOSED with winner 0. Refused (exit 6) when the auction has already ended.",
  async run({ args, output, admin }) {
    const id = parseId(args.positionals[0]!, "<auction>");
    const auction = await admin().post<AuctionJson>(`/v1/auctions/${id}/cancel`);
    output.result(auction, () => `cancelled auction ${auction.id}: closed with no sale`);
    return ExitCode.OK;
  },
};
