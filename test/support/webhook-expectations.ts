// The webhook events an auction must have produced, derived from what the server says happened
// (its replayed history and its CLOSED), independently of how the stores write them: an
// `outbid` when the lead passed between users, an `extended` when ends_at moved later, then
// `won` on a sale and `closed`.

import { expect } from "bun:test";
import { subscribe, type Closed, type Update } from "./subscriber.ts";
import type { ReceivedEvent, WebhookReceiver } from "./webhook-receiver.ts";

/** `type auction seq`: what identifies an event apart from its id. */
export type EventKey = string;

export function keyOf(event: { type: string; auction: number; seq: number }): EventKey {
  return `${event.type} ${event.auction} ${event.seq}`;
}

export function expectedKeys(auction: number, endsAtAtCreate: number, updates: Update[], closed: Closed | null, cancelled = false): EventKey[] {
  const keys: EventKey[] = [];
  let leader = 0;
  let endsAt = endsAtAtCreate;
  for (const update of updates) {
    if (leader !== 0 && leader !== update.leader) keys.push(keyOf({ type: "outbid", auction, seq: update.seq }));
    if (update.endsAt > endsAt) keys.push(keyOf({ type: "extended", auction, seq: update.seq }));
    leader = update.leader;
    endsAt = update.endsAt;
  }
  if (closed !== null) {
    if (closed.winner !== 0 && !cancelled) keys.push(keyOf({ type: "won", auction, seq: closed.seq }));
    keys.push(keyOf({ type: "closed", auction, seq: closed.seq }));
  }
  return keys;
}

/** Replays each (closed) auction from seq 0 and derives its expected events, in order. */
export async function expectedEvents(port: number, auctions: { id: number; endsAt: number }[]): Promise<Map<number, EventKey[]>> {
  const subscriber = await subscribe(port, auctions.map((a) => a.id), 0);
  const expected = new Map<number, EventKey[]>();
  try {
    for (const { id, endsAt } of auctions) {
      const closed = await subscriber.waitForClosed(id);
      const updates = subscriber.updates(id);
      expect(updates.map((u) => u.seq)).toEqual(Array.from({ length: closed.seq }, (_, i) => i + 1));
      expected.set(id, expectedKeys(id, endsAt, updates, closed));
    }
  } finally {
    subscriber.close();
  }
  return expected;
}

/** Waits until every expected event arrived (by key), or fails naming what is missing. */
export async function waitForEvents(receiver: WebhookReceiver, expected: Map<number, EventKey[]>, timeoutMs: number): Promise<void> {
  const all = [...expected.values()].flat();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const have = new Set(receiver.delivered.map(keyOf));
    const missing = all.filter((key) => !have.has(key));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${missing.length} of ${all.length} webhook events never arrived, e.g. ${missing.slice(0, 5).join("; ")}`);
    await Bun.sleep(50);
  }
}

/**
 * What every run must show: each delivery signed correctly, one id per event (duplicates
 * repeat it), no event that should not exist, and per auction the deliveries in the expected
 * order (a duplicate only ever repeats the latest event delivered, never an older one after a
 * newer).
 */
export function checkDeliveries(delivered: readonly ReceivedEvent[], expected: Map<number, EventKey[]>): void {
  expect(delivered.filter((e) => !e.signatureValid || !e.idHeaderMatches)).toEqual([]);
  const idOfKey = new Map<EventKey, string>();
  const keyOfId = new Map<string, EventKey>();
  for (const event of delivered) {
    const key = keyOf(event);
    expect(idOfKey.get(key) ?? event.id).toBe(event.id);
    expect(keyOfId.get(event.id) ?? key).toBe(key);
    idOfKey.set(key, event.id);
    keyOfId.set(event.id, key);
  }
  for (const [auction, keys] of expected) {
    const index = new Map(keys.map((key, i) => [key, i]));
    const arrivals = delivered.filter((e) => e.auction === auction).map((e) => index.get(keyOf(e)) ?? -1);
    expect(arrivals.filter((i) => i < 0)).toEqual([]);
    const outOfOrder = arrivals.filter((position, i) => i > 0 && position < arrivals[i - 1]!);
    expect(outOfOrder).toEqual([]);
  }
}
