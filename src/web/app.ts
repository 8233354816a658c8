/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="dom.asynciterable" />
// The live page at `/`: watch one auction (price, leader, bid feed, a countdown on the server's
// clock) and bid on it. Bundled by src/http/live-page.ts; the wire is live-socket.ts.

import { NO_REPLAY, Phase, Status } from "../protocol/constants.ts";
import { statusName } from "../protocol/names.ts";
import { firstBidStored } from "../protocol/resubmission.ts";
import { incrementAt } from "../auction/increments.ts";
import { formatClock, formatCountdown, formatMoney, formatMoneyInput, parseMoney } from "./format.ts";
import { LiveSocket, ReplyError, type ClosedFrame, type LinkStatus, type StateFrame, type UpdateFrame } from "./live-socket.ts";

/** The admin API's auction as JSON (README, "Admin API"). */
interface AuctionJson {
  id: number;
  title: string;
  phase: "scheduled" | "open" | "closed";
  starting_price: number;
  min_increment: number;
  /** The increment table, or null: min_increment at every price. */
  increments: { from: number; step: number }[] | null;
  reserve: number;
  buy_now_price: number | null;
  starts_at: number;
  ends_at: number;
  anti_snipe_ms: number;
  seq: number;
  amount: number;
  leader: number;
}

interface BidJson {
  seq: number;
  amount: number;
  user: number;
  at: number;
}

interface FeedEntry {
  seq: number;
  amount: number;
  user: number;
  at: number;
}

/** Rows kept in the feed and asked of the history. */
const FEED_LIMIT = 50;
const OPEN_LIST_LIMIT = 12;
/** The countdown turns red below this. */
const URGENT_MS = 60_000;
const TICK_MS = 250;
const EXTENDED_BADGE_MS = 4000;
const FLASH_MS = 150;
const MS_PER_SECOND = 1000;
const MAX_U32 = 0xffff_ffff;
const USER_KEY = "gavel.user";
/** An UNCONFIRMED bid is resent this many times at most, this far apart, to learn its fate. */
const CONFIRM_ATTEMPTS = 5;
const CONFIRM_RETRY_MS = 1000;

const STATUS_TEXT: Record<number, string> = {
  [Status.ACCEPTED]: "You are the highest bidder.",
  [Status.OUTBID]: "Too low.",
  [Status.UNKNOWN]: "No such auction.",
  [Status.CLOSED]: "The auction has ended.",
  [Status.NOT_STARTED]: "The auction has not opened yet.",
  [Status.RATE_LIMITED]: "Too many bids; wait a moment.",
  [Status.OVERLOADED]: "The server is busy; nothing was stored. Try again.",
  [Status.FORBIDDEN]: "You may not bid as this user.",
  [Status.UNAVAILABLE]: "The store is unreachable; nothing was stored. Try again.",
  [Status.INVALID]: "That bid is not valid.",
  [Status.UNCONFIRMED]: "Not confirmed: checking whether your bid was stored…",
};

function $<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

const ui = {
  link: $("link"),
  picker: $<HTMLFormElement>("picker"),
  pickerId: $<HTMLInputElement>("picker-id"),
  openList: $("open-list"),
  auction: $("auction"),
  auctionId: $("auction-id"),
  title: $("title"),
  phase: $("phase"),
  priceLabel: $("price-label"),
  price: $("price"),
  leader: $("leader"),
  countdownBox: $("countdown-box"),
  countdownLabel: $("countdown-label"),
  countdown: $("countdown"),
  extended: $("extended"),
  outcome: $("outcome"),
  facts: $("facts"),
  bidForm: $<HTMLFormElement>("bid-form"),
  bidUser: $<HTMLInputElement>("bid-user"),
  bidAmount: $<HTMLInputElement>("bid-amount"),
  bidSubmit: $<HTMLButtonElement>("bid-submit"),
  bidResult: $("bid-result"),
  maxForm: $<HTMLFormElement>("max-form"),
  maxAmount: $<HTMLInputElement>("max-amount"),
  maxSubmit: $<HTMLButtonElement>("max-submit"),
  standing: $("standing"),
  feedCard: $("feed-card"),
  feed: $("feed"),
  feedCount: $("feed-count"),
  feedEmpty: $("feed-empty"),
  notice: $("notice"),
};

/** Everything shown about the auction being watched. */
const view = {
  id: 0,
  /** The server knows no such auction. */
  missing: false,
  info: null as AuctionJson | null,
  phase: Phase.UNKNOWN as number,
  seq: 0,
  amount: 0,
  leader: 0,
  endsAt: 0,
  closed: null as ClosedFrame | null,
  feed: [] as FeedEntry[],
  /** Server clock minus ours. */
  clockOffset: 0,
  /** The bid amount was typed by the user: do not overwrite it with the minimum. */
  amountEdited: false,
  extendedUntil: 0,
  /** The maximum this page set for (auction, user), known only here: never sent back by the server. */
  myMax: null as { user: number; max: number } | null,
};

const serverNow = () => Date.now() + view.clockOffset;

const wsUrl = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
const live = new LiveSocket(wsUrl, {
  status: showLink,
  state: applyState,
  update: applyUpdate,
  closed: applyClosed,
  clock(offset) {
    view.clockOffset = offset;
    render();
  },
  error(error) {
    showNotice(`Server: ${error.message || `error ${error.code}`}`);
  },
});

// ---- watching an auction ---------------------------------------------------------------------

async function watch(id: number): Promise<void> {
  Object.assign(view, { id, missing: false, info: null, phase: Phase.UNKNOWN, seq: 0, amount: 0, leader: 0, endsAt: 0, closed: null, feed: [], amountEdited: false, extendedUntil: 0, myMax: null });
  ui.pickerId.value = String(id);
  ui.bidResult.replaceChildren();
  showNotice(null);
  const url = new URL(location.href);
  url.searchParams.set("auction", String(id));
  history.replaceState(null, "", url);
  document.title = `Auction #${id} · Gavel`;
  markCurrentChip();
  renderFeed();
  render();

  const [info, bids] = await Promise.all([getJson<AuctionJson>(`/v1/auctions/${id}`), getJson<{ bids: BidJson[] }>(`/v1/auctions/${id}/bids?limit=${FEED_LIMIT}`)]);
  if (view.id !== id) return;
  if (info === null) {
    view.missing = true;
    showNotice(`No auction #${id}.`);
    render();
    return;
  }
  view.info = info;
  document.title = `${info.title || `Auction #${id}`} · Gavel`;
  Object.assign(view, { seq: info.seq, amount: info.amount, leader: info.leader, endsAt: info.ends_at });
  let since = NO_REPLAY;
  if (bids !== null) {
    for (const b of bids.bids) addFeed(b);
    since = bids.bids.length > 0 ? bids.bids[0]!.seq : 0;
  }
  renderFeed();
  render();
  live.watch(id, since);
}

function applyState(state: StateFrame): void {
  if (state.auction !== view.id) return;
  view.phase = state.phase;
  if (state.seq >= view.seq) Object.assign(view, { seq: state.seq, amount: state.amount, leader: state.leader });
  noteEndsAt(state.endsAt);
  if (state.phase === Phase.UNKNOWN) {
    view.missing = true;
    showNotice(`No auction #${state.auction}.`);
  }
  render();
}

function applyUpdate(update: UpdateFrame): void {
  if (update.auction !== view.id) return;
  addFeed({ seq: update.seq, amount: update.amount, user: update.leader, at: serverNow() });
  if (update.seq >= view.seq) {
    Object.assign(view, { seq: update.seq, amount: update.amount, leader: update.leader });
    if (view.phase !== Phase.CLOSED) view.phase = Phase.OPEN;
    flashPrice();
  }
  noteEndsAt(update.endsAt);
  renderFeed();
  render();
}

function applyClosed(closed: ClosedFrame): void {
  if (closed.auction !== view.id) return;
  view.closed = closed;
  view.phase = Phase.CLOSED;
  render();
}

/** A later ends_at than the one shown is an anti-snipe extension. */
function noteEndsAt(endsAt: number): void {
  if (endsAt === 0) return;
  if (view.endsAt !== 0 && endsAt > view.endsAt) view.extendedUntil = Date.now() + EXTENDED_BADGE_MS;
  view.endsAt = endsAt;
}

function addFeed(entry: FeedEntry): void {
  if (view.feed.some((e) => e.seq === entry.seq)) return;
  view.feed.push(entry);
  view.feed.sort((a, b) => b.seq - a.seq);
  if (view.feed.length > FEED_LIMIT) view.feed.length = FEED_LIMIT;
}

/** The least increment at `price`: the auction's table, or its fixed increment. */
function increment(price: number): number {
  const info = view.info;
  if (info === null) return 1;
  return incrementAt({ minIncrement: info.min_increment, increments: info.increments ?? undefined }, price);
}

/** The least the next bid may be (the bid rule: starting price first, then + increment). */
function minimumBid(): number {
  const info = view.info;
  if (view.seq === 0 || view.amount === 0) return info?.starting_price ?? 1;
  return view.amount + increment(view.amount);
}

// ---- bidding ---------------------------------------------------------------------------------

async function placeBid(): Promise<void> {
  const user = Number(ui.bidUser.value);
  const amount = parseMoney(ui.bidAmount.value);
  if (!Number.isInteger(user) || user < 1 || user > MAX_U32) return showResult(null, "Enter your user id (a whole number from 1).");
  if (amount === null) return showResult(null, "Enter an amount like 12.50.");
  localStorage.setItem(USER_KEY, String(user));
  ui.bidSubmit.disabled = true;
  try {
    let result: { status: number; amount: number; leader: number } = await live.bid(view.id, user, amount);
    if (result.status === Status.UNCONFIRMED) result = await confirm(view.id, user, amount);
    if (result.status === Status.UNCONFIRMED) return showResult(result.status, "Could not confirm your bid: the store is not answering. Watch the feed, or try again later.");
    let text = STATUS_TEXT[result.status] ?? "";
    if (result.status === Status.OUTBID && result.amount > 0) {
      text =
        result.leader !== user && result.leader !== 0 && result.amount > amount
          ? `Another bidder's maximum is higher: the price is now ${formatMoney(result.amount)}.`
          : `Too low: the next bid must be at least ${formatMoney(result.amount + increment(result.amount))}.`;
    }
    if (result.status === Status.ACCEPTED) view.amountEdited = false;
    showResult(result.status, text);
    render();
  } catch (error) {
    showResult(null, error instanceof ReplyError ? `Server: ${error.message}` : "Not connected; try again in a moment.");
  } finally {
    ui.bidSubmit.disabled = false;
  }
}

/** Sends a maximum (MAX_BID); the server bids with it for the user. It is never shown to others. */
async function placeMaximum(): Promise<void> {
  const user = Number(ui.bidUser.value);
  const max = parseMoney(ui.maxAmount.value);
  if (!Number.isInteger(user) || user < 1 || user > MAX_U32) return showResult(null, "Enter your user id (a whole number from 1).");
  if (max === null) return showResult(null, "Enter a maximum like 120.00.");
  localStorage.setItem(USER_KEY, String(user));
  ui.maxSubmit.disabled = true;
  const priceBefore = view.amount;
  try {
    const result = await live.maxBid(view.id, user, max);
    let text = STATUS_TEXT[result.status] ?? "";
    if (result.status === Status.ACCEPTED) {
      // A leader raising their own maximum keeps the higher one; this page remembers what it sent.
      if (view.myMax === null || view.myMax.user !== user || max > view.myMax.max) view.myMax = { user, max };
      text = `You lead at ${formatMoney(result.amount)}; the server bids for you up to your maximum of ${formatMoney(view.myMax.max)}, which stays private.`;
    } else if (result.status === Status.OUTBID && result.amount > priceBefore) {
      // The price moved: another bidder's maximum answered this one.
      view.myMax = { user, max };
      text = `Another bidder's maximum is as high or higher: the price is now ${formatMoney(result.amount)}.`;
    } else if (result.status === Status.OUTBID && result.amount > 0) {
      text = `Too low: a maximum must be at least ${formatMoney(result.amount + increment(result.amount))}.`;
    } else if (result.status === Status.UNCONFIRMED) {
      text = "Not confirmed: the store did not answer in time. Check whether you lead, or set the same maximum again (that is safe).";
    }
    showResult(result.status, text);
    render();
  } catch (error) {
    showResult(null, error instanceof ReplyError ? `Server: ${error.message}` : "Not connected; try again in a moment.");
  } finally {
    ui.maxSubmit.disabled = false;
  }
}

/**
 * The bid came back UNCONFIRMED (the store did not answer in time: it may or may not be
 * stored). Says so, then settles it the contract's way: the same bid again, which answers
 * ACCEPTED if the first was not stored, or OUTBID naming this user at this amount if it was.
 * Returns the RESULT to show: ACCEPTED for a bid that leads either way, else what stands now.
 */
async function confirm(auction: number, user: number, amount: number): Promise<{ status: number; amount: number; leader: number }> {
  showResult(Status.UNCONFIRMED, STATUS_TEXT[Status.UNCONFIRMED]!);
  let result = { status: Status.UNCONFIRMED as number, amount: 0, leader: 0 };
  for (let attempt = 0; attempt < CONFIRM_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, CONFIRM_RETRY_MS));
    result = await live.bid(auction, user, amount);
    if (firstBidStored(result, user, amount) === true) return { ...result, status: Status.ACCEPTED };
    // Anything but "the store still does not answer" settles it (outbid since, stored or not).
    if (result.status !== Status.UNCONFIRMED && result.status !== Status.UNAVAILABLE) return result;
  }
  return { status: Status.UNCONFIRMED, amount: 0, leader: 0 };
}

function showResult(status: number | null, text: string): void {
  const parts: Node[] = [];
  if (status !== null) {
    const chip = document.createElement("span");
    chip.className = "status";
    chip.dataset.status = statusName(status) ?? String(status);
    chip.textContent = statusName(status) ?? `status ${status}`;
    parts.push(chip);
  }
  parts.push(document.createTextNode(text));
  ui.bidResult.replaceChildren(...parts);
}

// ---- rendering -------------------------------------------------------------------------------

function phaseName(): { key: string; text: string } {
  if (view.closed !== null || view.phase === Phase.CLOSED) return { key: "closed", text: "Closed" };
  const now = serverNow();
  if (view.phase === Phase.UNKNOWN && view.info === null) return { key: "unknown", text: "…" };
  if (view.phase === Phase.SCHEDULED || (view.info?.phase === "scheduled" && view.phase === Phase.UNKNOWN)) {
    if (view.info !== null && now < view.info.starts_at) return { key: "scheduled", text: "Scheduled" };
  }
  if (view.endsAt !== 0 && now >= view.endsAt) return { key: "closing", text: "Closing…" };
  return { key: "open", text: "Open" };
}

function render(): void {
  const watching = view.id !== 0 && !view.missing;
  ui.auction.hidden = !watching;
  ui.feedCard.hidden = !watching;
  if (!watching) return;
  const info = view.info;
  ui.auctionId.textContent = `Auction #${view.id}`;
  ui.title.textContent = info?.title || `Auction #${view.id}`;

  const phase = phaseName();
  ui.phase.textContent = phase.text;
  ui.phase.dataset.phase = phase.key;

  const hasBid = view.seq > 0 && view.amount > 0;
  ui.priceLabel.textContent = !hasBid ? "Starting price" : phase.key === "closed" ? "Final bid" : "Current bid";
  ui.price.textContent = hasBid ? formatMoney(view.amount) : info !== null ? formatMoney(info.starting_price) : "–";
  const me = Number(ui.bidUser.value);
  if (hasBid) {
    const who = document.createElement("strong");
    who.textContent = view.leader === me ? `you (user ${view.leader})` : `user ${view.leader}`;
    ui.leader.replaceChildren("Leader: ", who, ` · ${view.seq} bid${view.seq === 1 ? "" : "s"}`);
  } else {
    ui.leader.textContent = "No bids yet";
  }

  renderCountdown();
  renderOutcome();
  renderFacts();
  renderStanding(hasBid, me, phase.key === "closed");

  const closed = phase.key === "closed";
  ui.bidForm.hidden = closed;
  ui.maxForm.hidden = closed;
  const min = minimumBid();
  const typed = parseMoney(ui.bidAmount.value);
  if (!view.amountEdited || typed === null || typed < min) {
    if (document.activeElement !== ui.bidAmount) {
      ui.bidAmount.value = formatMoneyInput(min);
      view.amountEdited = false;
    }
  }
  ui.bidAmount.placeholder = formatMoneyInput(min);
}

/** Whether the user entered on the page leads, and what this page knows of their private maximum. */
function renderStanding(hasBid: boolean, me: number, closed: boolean): void {
  const known = Number.isInteger(me) && me >= 1;
  ui.standing.hidden = !known || !hasBid;
  if (ui.standing.hidden) return;
  const leads = view.leader === me;
  const max = view.myMax !== null && view.myMax.user === me ? view.myMax.max : null;
  ui.standing.dataset.leading = String(leads);
  if (closed) ui.standing.textContent = leads ? "You were the highest bidder." : "You were not the highest bidder.";
  else if (leads) ui.standing.textContent = max === null ? "You lead." : `You lead. Your maximum of ${formatMoney(max)} is private: only you see it here.`;
  else ui.standing.textContent = max === null ? "You are not leading." : `You are not leading: another bidder's maximum is higher than yours (${formatMoney(max)}).`;
}

function renderCountdown(): void {
  const now = serverNow();
  const closed = view.closed !== null || view.phase === Phase.CLOSED;
  const info = view.info;
  ui.countdownBox.hidden = closed || view.endsAt === 0;
  if (ui.countdownBox.hidden) return;
  const scheduled = info !== null && now < info.starts_at && view.phase !== Phase.OPEN;
  const target = scheduled ? info.starts_at : view.endsAt;
  const left = target - now;
  ui.countdownLabel.textContent = scheduled ? "Opens in" : left > 0 ? "Ends in" : "Ended";
  ui.countdown.textContent = formatCountdown(left);
  ui.countdownBox.dataset.urgent = String(!scheduled && left < URGENT_MS);
  ui.extended.hidden = Date.now() > view.extendedUntil;
}

function renderOutcome(): void {
  const closed = view.closed;
  ui.outcome.hidden = closed === null;
  if (closed === null) return;
  const sold = closed.winner !== 0;
  ui.outcome.dataset.sold = String(sold);
  ui.outcome.textContent = sold ? `Sold to user ${closed.winner} for ${formatMoney(closed.amount)}` : "Closed with no sale";
}

function renderFacts(): void {
  const info = view.info;
  if (info === null) {
    ui.facts.replaceChildren();
    return;
  }
  const facts: [string, string][] = [
    ["Starting price", formatMoney(info.starting_price)],
    ["Min. increment", info.increments === null ? formatMoney(info.min_increment) : `${formatMoney(increment(view.amount))} now (by price band)`],
  ];
  if (info.reserve > 0) facts.push(["Reserve", view.amount >= info.reserve ? "met" : "not met"]);
  if (info.buy_now_price !== null) facts.push(["Buy now", formatMoney(info.buy_now_price)]);
  facts.push(["Ends", view.endsAt > 0 ? new Date(view.endsAt - view.clockOffset).toLocaleString() : "–"]);
  if (info.anti_snipe_ms > 0) facts.push(["Anti-snipe", `${Math.round(info.anti_snipe_ms / MS_PER_SECOND)} s`]);
  const rows = facts.map(([name, value]) => {
    const row = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    row.append(dt, dd);
    return row;
  });
  ui.facts.replaceChildren(...rows);
}

function renderFeed(): void {
  const me = Number(ui.bidUser.value);
  const existing = new Map<number, HTMLElement>();
  for (const li of ui.feed.children) existing.set(Number((li as HTMLElement).dataset.seq), li as HTMLElement);
  const rows = view.feed.map((entry) => {
    const known = existing.get(entry.seq);
    if (known !== undefined) return known;
    const li = document.createElement("li");
    li.dataset.seq = String(entry.seq);
    if (entry.user === me) li.classList.add("mine");
    li.append(cell("seq", `#${entry.seq}`), cell("amount", formatMoney(entry.amount)), cell("user", `user ${entry.user}`), cell("time", formatClock(entry.at - view.clockOffset)));
    return li;
  });
  ui.feed.replaceChildren(...rows);
  ui.feedEmpty.hidden = rows.length > 0;
  ui.feedCount.textContent = view.seq > 0 ? `(${view.seq})` : "";
}

function cell(className: string, text: string): HTMLElement {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

function flashPrice(): void {
  ui.price.classList.add("flash");
  setTimeout(() => ui.price.classList.remove("flash"), FLASH_MS);
}

function showLink(status: LinkStatus): void {
  ui.link.dataset.state = status;
  ui.link.textContent = status === "live" ? "live" : status === "connecting" ? "connecting…" : "reconnecting…";
}

function showNotice(text: string | null): void {
  ui.notice.hidden = text === null;
  ui.notice.textContent = text ?? "";
}

// ---- open auctions ---------------------------------------------------------------------------

async function loadOpenAuctions(): Promise<void> {
  const page = await getJson<{ auctions: AuctionJson[] }>(`/v1/auctions?phase=open&limit=${OPEN_LIST_LIMIT}`);
  if (page === null) return;
  const chips = page.auctions.map((a) => {
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "chip";
    chip.dataset.id = String(a.id);
    chip.textContent = a.title ? `#${a.id} ${a.title}` : `#${a.id}`;
    chip.addEventListener("click", () => void watch(a.id));
    return chip;
  });
  ui.openList.replaceChildren(...chips);
  markCurrentChip();
}

function markCurrentChip(): void {
  for (const chip of ui.openList.children) (chip as HTMLElement).setAttribute("aria-current", String((chip as HTMLElement).dataset.id === String(view.id)));
}

async function getJson<T>(path: string): Promise<T | null> {
  try {
    const response = await fetch(path, { headers: { accept: "application/json" } });
    return response.ok ? ((await response.json()) as T) : null;
  } catch {
    return null;
  }
}

// ---- start -----------------------------------------------------------------------------------

function parseAuctionId(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text.trim())) return null;
  const id = Number(text);
  return id >= 1 && id <= MAX_U32 ? id : null;
}

ui.picker.addEventListener("submit", (event) => {
  event.preventDefault();
  const id = parseAuctionId(ui.pickerId.value);
  if (id === null) return showNotice("An auction id is a whole number from 1.");
  void watch(id);
});
ui.bidForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void placeBid();
});
ui.maxForm.addEventListener("submit", (event) => {
  event.preventDefault();
  void placeMaximum();
});
ui.bidAmount.addEventListener("input", () => {
  view.amountEdited = true;
});
ui.bidUser.addEventListener("change", () => {
  renderFeed();
  render();
});
ui.bidUser.value = localStorage.getItem(USER_KEY) ?? "";
setInterval(renderCountdown, TICK_MS);

live.start();
void loadOpenAuctions();
const initial = parseAuctionId(new URLSearchParams(location.search).get("auction"));
if (initial !== null) void watch(initial);
