// The JSON body of a webhook POST (docs/webhooks.md, "Events"): the event's id, type, auction
// and seq, then the fields of its type only. Money in minor units, times in ms since the epoch.

import { NotificationType } from "../auction/notification.ts";
import type { OutboxEntry } from "../store/outbox.ts";

export function eventBody(entry: OutboxEntry): string {
  const { event } = entry;
  const head = { id: entry.id, type: event.type, auction: event.auction, seq: event.seq, at: event.at };
  switch (event.type) {
    case NotificationType.OUTBID:
      return JSON.stringify({ ...head, user: event.user, amount: event.amount, leader: event.leader });
    case NotificationType.EXTENDED:
      return JSON.stringify({ ...head, ends_at: event.endsAt });
    case NotificationType.WON:
      return JSON.stringify({ ...head, winner: event.user, amount: event.amount });
    case NotificationType.CLOSED:
      return JSON.stringify({ ...head, outcome: event.outcome, winner: event.user, amount: event.amount });
  }
}
