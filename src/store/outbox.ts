// The webhook outbox as the dispatcher (src/notify/) sees it: events a store wrote in the same
// transaction (or Lua call) as the change that caused them, handed out oldest first and
// removed once delivered. docs/webhooks.md says what a receiver gets.

import type { Notification } from "../auction/notification.ts";

/** One stored event. */
export interface OutboxEntry {
  /** Unique for the life of the deployment: what a receiver de-duplicates on. */
  readonly id: string;
  readonly event: Notification;
  /** Where the store keeps it (a row id, a stream entry): only the store reads it. */
  readonly ref: string | number;
}

export interface OutboxReader {
  /**
   * Up to `limit` stored events not handed out before by this reader, oldest first (so each
   * auction's in seq order). Called again with 0 it only keeps the reader's claims alive (Redis:
   * the leases on its shard groups). Rejects when the store cannot be reached.
   */
  take(limit: number): Promise<OutboxEntry[]>;
  /** The event was delivered: it is removed for good. */
  ack(entry: OutboxEntry): Promise<void>;
  /** Events stored and not acknowledged, as last known (for the backlog gauge). */
  backlog(): number;
  /** Stops claiming (Redis: its leases are released for another node to take at once). */
  close(): Promise<void>;
}
