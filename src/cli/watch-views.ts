// How `gavel watch` shows an auction: a block redrawn in place on a terminal, a line per event
// otherwise, or one JSON object per event with --json. All three read the same WatchModel.

import type { ClosedEvent, StateEvent, UpdateEvent } from "../client/index.ts";
import { formatCountdown, formatLeader, formatOffset, formatTime } from "./format.ts";
import { phaseName } from "./names.ts";
import type { Output } from "./output.ts";

/** Bids kept for the live view's feed (and replayed when watching starts). */
export const FEED_SIZE = 10;
/** ANSI: cursor to the start of the line n above, then clear to the end of the screen. */
const up = (lines: number) => `\x1b[${lines}F\x1b[0J`;
const NO_WINNER = 0;
/** Nobody leads before the first bid. */
const NO_LEADER = 0;

/** What the watcher knows: the latest state, the recent bids, the clock and the connection. */
export interface WatchModel {
  auction: number;
  title: string | null;
  /** Server clock minus ours, ms. */
  offsetMs: number;
  phase: string;
  seq: number;
  amount: number;
  leader: number;
  endsAt: number;
  /** The newest bids, oldest first, at most FEED_SIZE. */
  feed: { seq: number; amount: number; leader: number; serverTime: number }[];
  closed: ClosedEvent | null;
  /** Why the connection dropped, while reconnecting; null while connected. */
  reconnecting: string | null;
}

export function newWatchModel(auction: number, title: string | null, offsetMs: number): WatchModel {
  return { auction, title, offsetMs, phase: "unknown", seq: 0, amount: 0, leader: 0, endsAt: 0, feed: [], closed: null, reconnecting: null };
}

/** The server's clock now, by our clock and the measured offset. */
export function serverNow(model: WatchModel): number {
  return Date.now() + model.offsetMs;
}

/** Applies an event to the model. */
export function applyEvent(model: WatchModel, event: StateEvent | UpdateEvent | ClosedEvent): void {
  if (event.type === "state") {
    Object.assign(model, { phase: phaseName(event.phase), seq: event.seq, amount: event.amount, leader: event.leader, endsAt: event.endsAt });
  } else if (event.type === "update") {
    Object.assign(model, { seq: event.seq, amount: event.amount, leader: event.leader, endsAt: event.endsAt });
    model.feed.push({ seq: event.seq, amount: event.amount, leader: event.leader, serverTime: serverNow(model) });
    if (model.feed.length > FEED_SIZE) model.feed.shift();
  } else {
    model.closed = event;
    model.phase = "closed";
  }
}

/** Before the first bid the amount means nothing yet. */
function formatPrice(model: WatchModel): string {
  return model.leader === NO_LEADER ? "none yet" : String(model.amount);
}

export function describeClosed(closed: ClosedEvent): string {
  return closed.winner === NO_WINNER ? `closed: no sale after ${closed.seq} bids` : `closed: sold to ${closed.winner} for ${closed.amount} after ${closed.seq} bids`;
}

/** A renderer: told after each change of the model, and (live view) every tick. */
export interface WatchView {
  /** The model changed because of `event` (a connection change when undefined). */
  changed(model: WatchModel, event?: StateEvent | UpdateEvent | ClosedEvent): void;
  /** Live view only: redraw the countdown. */
  readonly ticks: boolean;
  tick(model: WatchModel): void;
}

/** The live view on a terminal: the whole block redrawn in place. */
export function liveView(output: Output, columns: () => number): WatchView {
  let drawn = 0;
  const draw = (model: WatchModel) => {
    const width = Math.max(columns(), 20);
    const lines = renderBlock(model).map((line) => (line.length > width ? line.slice(0, width - 1) : line));
    output.raw(`${drawn > 0 ? up(drawn) : ""}${lines.join("\n")}\n`);
    drawn = lines.length;
  };
  return { ticks: true, changed: draw, tick: draw };
}

function renderBlock(model: WatchModel): string[] {
  const now = serverNow(model);
  const title = model.title === null || model.title === "" ? `auction ${model.auction}` : `${model.title}  (auction ${model.auction})`;
  const ends =
    model.closed !== null
      ? describeClosed(model.closed)
      : model.phase === "scheduled"
        ? `not open yet; ends ${formatTime(model.endsAt)}`
        : `ends in ${formatCountdown(model.endsAt - now)}  (${formatTime(model.endsAt)}, server clock ${formatOffset(model.offsetMs)})`;
  const lines = [
    `${title}  [${model.phase}]`,
    `price ${formatPrice(model)}   leader ${formatLeader(model.leader)}   bids ${model.seq}`,
    ends,
  ];
  if (model.reconnecting !== null) lines.push(`connection lost (${model.reconnecting}); reconnecting...`);
  lines.push(model.feed.length === 0 ? "no bids seen yet" : "recent bids:");
  for (const bid of [...model.feed].reverse()) lines.push(`  #${bid.seq}  ${bid.amount}  by ${bid.leader}  at ${formatTime(bid.serverTime)}`);
  return lines;
}

/** Not a terminal: one plain line per event. */
export function lineView(output: Output): WatchView {
  return {
    ticks: false,
    tick() {},
    changed(model, event) {
      if (event === undefined) {
        output.raw(model.reconnecting !== null ? `connection lost (${model.reconnecting}); reconnecting\n` : "reconnected\n");
      } else if (event.type === "state") {
        const title = model.title ? ` "${model.title}"` : "";
        output.raw(
          `auction ${model.auction}${title}: ${model.phase}, price ${formatPrice(model)}, leader ${formatLeader(model.leader)}, ${model.seq} bids, ` +
            `ends ${formatTime(model.endsAt)} (server clock ${formatOffset(model.offsetMs)})\n`,
        );
      } else if (event.type === "update") {
        output.raw(`#${event.seq}: ${event.amount} by ${event.leader}, ends ${formatTime(event.endsAt)}\n`);
      } else {
        output.raw(`${describeClosed(event)}\n`);
      }
    },
  };
}

/** --json: one object per event, named by "event". */
export function jsonView(output: Output): WatchView {
  const emit = (document: unknown) => output.raw(`${JSON.stringify(document)}\n`);
  return {
    ticks: false,
    tick() {},
    changed(model, event) {
      if (event === undefined) {
        emit(model.reconnecting !== null ? { event: "disconnected", auction: model.auction, reason: model.reconnecting } : { event: "reconnected", auction: model.auction });
      } else if (event.type === "state") {
        emit({
          event: "state",
          auction: event.auction,
          title: model.title,
          phase: phaseName(event.phase),
          seq: event.seq,
          amount: event.amount,
          leader: event.leader,
          ends_at: event.endsAt,
          clock_offset_ms: Number(model.offsetMs.toFixed(3)),
        });
      } else if (event.type === "update") {
        emit({ event: "update", auction: event.auction, seq: event.seq, amount: event.amount, leader: event.leader, ends_at: event.endsAt });
      } else {
        emit({ event: "closed", auction: event.auction, seq: event.seq, winner: event.winner, amount: event.amount });
      }
    },
  };
}
