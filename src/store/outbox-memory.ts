// The memory store's outbox: events in a bounded Map, lost on restart like everything else the
// memory store holds (it is for tests and benchmarks). Past MEMORY_OUTBOX_LIMIT undelivered
// events the oldest is dropped (counted in `dropped`), so a receiver that is down for good
// cannot grow the process without bound.

import { randomUUID } from "node:crypto";
import type { Notification, NotificationSink } from "../auction/notification.ts";
import type { OutboxEntry, OutboxReader } from "./outbox.ts";

/** Undelivered events the memory store keeps at most. */
export const MEMORY_OUTBOX_LIMIT = 100_000;

/** A fresh event id: `evt_` and 32 hex digits (a random UUID's). */
export function newEventId(): string {
  return `evt_${randomUUID().replaceAll("-", "")}`;
}

export class MemoryOutbox implements NotificationSink, OutboxReader {
  /** Undelivered events by their position (consecutive numbers, insertion-ordered). */
  private readonly entries = new Map<number, OutboxEntry>();
  /** The next position to write, the next to hand out, the oldest that may still be held. */
  private nextPosition = 0;
  private nextTake = 0;
  private oldest = 0;
  /** Events dropped for the bound before they were delivered. */
  dropped = 0;

  constructor(private readonly limit = MEMORY_OUTBOX_LIMIT) {}

  add(event: Notification): void {
    const position = this.nextPosition++;
    this.entries.set(position, { id: newEventId(), event, ref: position });
    while (this.entries.size > this.limit) {
      if (this.entries.delete(this.oldest)) this.dropped++;
      this.oldest++;
    }
    if (this.nextTake < this.oldest) this.nextTake = this.oldest;
  }

  async take(limit: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    if (this.nextTake < this.oldest) this.nextTake = this.oldest;
    while (out.length < limit && this.nextTake < this.nextPosition) {
      const entry = this.entries.get(this.nextTake++);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  async ack(entry: OutboxEntry): Promise<void> {
    this.entries.delete(entry.ref as number);
    while (this.oldest < this.nextTake && !this.entries.has(this.oldest)) this.oldest++;
  }

  backlog(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {}
}
