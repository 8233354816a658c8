// Text for people: times, spans, auctions and tables. (Scripts use --json instead.)

import type { AuctionJson, BidJson } from "./admin-api.ts";

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Nobody leads yet: leader 0. */
const NO_LEADER = 0;
const COLUMN_GAP = "  ";

/** "2026-01-01 12:00:00Z": UTC, to the second. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

/** A countdown: "1d 02:03:04", "02:03:04", "03:04"; never negative. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / SECOND_MS));
  const days = Math.floor(total / (DAY_MS / SECOND_MS));
  const hours = Math.floor((total % (DAY_MS / SECOND_MS)) / (HOUR_MS / SECOND_MS));
  const minutes = Math.floor((total % (HOUR_MS / SECOND_MS)) / (MINUTE_MS / SECOND_MS));
  const seconds = total % (MINUTE_MS / SECOND_MS);
  const two = (n: number) => String(n).padStart(2, "0");
  const clock = hours > 0 || days > 0 ? `${two(hours)}:${two(minutes)}:${two(seconds)}` : `${two(minutes)}:${two(seconds)}`;
  return days > 0 ? `${days}d ${clock}` : clock;
}

/** "in 3m 05s" / "4s ago", for a time relative to now. */
export function formatRelative(ms: number, now: number): string {
  const delta = ms - now;
  const span = formatCountdown(Math.abs(delta));
  return delta >= 0 ? `in ${span}` : `${span} ago`;
}

/** Signed milliseconds with a fixed precision: "+1.25 ms". */
export function formatOffset(ms: number): string {
  return `${ms >= 0 ? "+" : "-"}${Math.abs(ms).toFixed(2)} ms`;
}

export function formatLeader(leader: number): string {
  return leader === NO_LEADER ? "none" : String(leader);
}

/** The auction as an aligned block of "field  value" lines. */
export function formatAuction(auction: AuctionJson, now: number): string {
  const rows: [string, string][] = [
    ["auction", `${auction.id}${auction.title === "" ? "" : ` "${auction.title}"`}`],
    ["phase", auction.phase],
    ["price", auction.leader === NO_LEADER ? `no bid yet (starting price ${auction.starting_price})` : String(auction.amount)],
    ["leader", formatLeader(auction.leader)],
    ["bids", String(auction.seq)],
    auction.increments !== undefined && auction.increments !== null && auction.increments.length > 0
      ? ["increments", auction.increments.map((row) => `${row.step} from ${row.from}`).join(", ")]
      : ["min increment", String(auction.min_increment)],
    ["reserve", auction.reserve === 0 ? "none" : String(auction.reserve)],
    ["buy now", auction.buy_now_price === null ? "none" : String(auction.buy_now_price)],
    ["starts", `${formatTime(auction.starts_at)} (${formatRelative(auction.starts_at, now)})`],
    ["ends", `${formatTime(auction.ends_at)} (${formatRelative(auction.ends_at, now)})`],
  ];
  if (auction.anti_snipe_ms > 0) rows.push(["anti-snipe", `${auction.anti_snipe_ms} ms`]);
  if (auction.max_ends_at !== null) rows.push(["ends at most", formatTime(auction.max_ends_at)]);
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, value]) => `${name.padEnd(width)}${COLUMN_GAP}${value}`).join("\n");
}

/** Rows under a header, each column as wide as its widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join(COLUMN_GAP)
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatAuctionTable(auctions: readonly AuctionJson[]): string {
  if (auctions.length === 0) return "no auctions";
  return formatTable(
    ["ID", "PHASE", "PRICE", "LEADER", "BIDS", "ENDS", "TITLE"],
    auctions.map((a) => [String(a.id), a.phase, String(a.amount), formatLeader(a.leader), String(a.seq), formatTime(a.ends_at), a.title]),
  );
}

export function formatBidTable(bids: readonly BidJson[]): string {
  if (bids.length === 0) return "no bids";
  return formatTable(
    ["SEQ", "AMOUNT", "USER", "BY", "AT"],
    bids.map((b) => [String(b.seq), String(b.amount), String(b.user), b.by ?? "bid", formatTime(b.at)]),
  );
}
