// `gavel create`: a new auction through POST /v1/auctions; the flags are the API's fields.

import type { AuctionJson } from "../admin-api.ts";
import { FlagKind, type FlagSpec } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { ExitCode } from "../exit-codes.ts";
import { formatAuction } from "../format.ts";
import { parseAmount, parseId } from "../ids.ts";
import { parseDuration, parseTime } from "../time-values.ts";

const FLAGS: readonly FlagSpec[] = [
  { name: "title", kind: FlagKind.VALUE, placeholder: "TEXT", help: "what is sold (up to 200 characters)" },
  { name: "starting-price", kind: FlagKind.VALUE, placeholder: "CENTS", help: "the lowest first bid (default 1)" },
  { name: "min-increment", kind: FlagKind.VALUE, placeholder: "CENTS", help: "how much each bid must add (default 1)" },
  { name: "increments", kind: FlagKind.VALUE, placeholder: "FROM:STEP,...", help: "an increment table instead: 0:5,100:25,500:50 (cents)" },
  { name: "reserve", kind: FlagKind.VALUE, placeholder: "CENTS", help: "below this nothing is sold (default 0: none)" },
  { name: "buy-now", kind: FlagKind.VALUE, placeholder: "CENTS", help: "a bid at or above this wins at once (while the reserve is unmet)" },
  { name: "ends-in", kind: FlagKind.VALUE, placeholder: "DURATION", help: "closes this long from now: 30s, 10m, 2h, 1d" },
  { name: "ends-at", kind: FlagKind.VALUE, placeholder: "TIME", help: "closes at ms since the epoch, ISO-8601, or +DURATION" },
  { name: "starts-at", kind: FlagKind.VALUE, placeholder: "TIME", help: "opens at this time (default: now)" },
  { name: "anti-snipe", kind: FlagKind.VALUE, placeholder: "DURATION", help: "a bid this close to the end extends it by as much" },
  { name: "max-ends-at", kind: FlagKind.VALUE, placeholder: "TIME", help: "anti-sniping never moves the end past this" },
  { name: "id", kind: FlagKind.VALUE, placeholder: "ID", help: "the auction's id (default: the next free one)" },
];

/** The optional amount flags and the API fields they fill. */
const AMOUNT_FIELDS = [
  ["starting-price", "starting_price", 1],
  ["min-increment", "min_increment", 1],
  ["reserve", "reserve", 0],
  ["buy-now", "buy_now_price", 1],
] as const;

/** `0:5,100:25` as [{from: 0, step: 5}, {from: 100, step: 25}]. */
function parseIncrementsFlag(text: string): { from: number; step: number }[] {
  return text.split(",").map((pair) => {
    const match = /^\s*(\d+)\s*:\s*(\d+)\s*$/.exec(pair);
    if (match === null) throw new UsageError(`--increments: expected FROM:STEP pairs in cents, like 0:5,100:25; got "${pair}"`);
    return { from: Number(match[1]), step: Number(match[2]) };
  });
}

export const createCommand: Command = {
  name: "create",
  summary: "create an auction",
  positionals: [],
  flags: FLAGS,
  details: `Money is in minor units (cents); times are ms since the epoch, ISO-8601 (2026-01-01T12:00:00Z)
or +DURATION from now, by this machine's clock. One of --ends-in or --ends-at is required.
Prints the created auction.

Example:
  gavel create --title Lamp --starting-price 1000 --reserve 5000 --ends-in 2h --anti-snipe 30s`,
  async run({ args, output, admin }) {
    const now = Date.now();
    const endsIn = args.text("ends-in");
    const endsAt = args.text("ends-at");
    if ((endsIn === undefined) === (endsAt === undefined)) throw new UsageError("give one of --ends-in or --ends-at");

    const body: Record<string, unknown> = {
      ends_at: endsIn !== undefined ? now + parseDuration(endsIn, "--ends-in") : parseTime(endsAt!, "--ends-at", now),
    };
    const title = args.text("title");
    if (title !== undefined) body.title = title;
    for (const [flag, field, min] of AMOUNT_FIELDS) {
      const text = args.text(flag);
      if (text !== undefined) body[field] = parseAmount(text, `--${flag}`, min);
    }
    const increments = args.text("increments");
    // The server checks the table (first from 0, ascending, steps never shrinking) and names the row.
    if (increments !== undefined) body.increments = parseIncrementsFlag(increments);
    const startsAt = args.text("starts-at");
    if (startsAt !== undefined) body.starts_at = parseTime(startsAt, "--starts-at", now);
    const antiSnipe = args.text("anti-snipe");
    if (antiSnipe !== undefined) body.anti_snipe_ms = parseDuration(antiSnipe, "--anti-snipe");
    const maxEndsAt = args.text("max-ends-at");
    if (maxEndsAt !== undefined) body.max_ends_at = parseTime(maxEndsAt, "--max-ends-at", now);
    const id = args.text("id");
    if (id !== undefined) body.id = parseId(id, "--id");

    const auction = await admin().post<AuctionJson>("/v1/auctions", body);
    output.result(auction, () => `created auction ${auction.id}\n${formatAuction(auction, Date.now())}`);
    return ExitCode.OK;
  },
};
