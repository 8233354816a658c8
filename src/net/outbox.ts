// Connections written once per tick: every reply queued during a tick (RESULTs of a batch,
// UPDATEs of a fan-out, answers to requests) marks its connection dirty, and one microtask at
// the end of the tick writes each dirty connection once (accepted sockets have TCP_NODELAY, so
// fewer, larger writes).

import type { Connection } from "./connection.ts";

export class Outbox {
  private readonly dirty: Connection[] = [];
  private flushScheduled = false;

  /** Writes `connection` at the end of this tick (once, however many replies it got). */
  readonly markDirty = (connection: Connection): void => {
    if (connection.dirty) return;
    connection.dirty = true;
    this.dirty.push(connection);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushDirty);
    }
  };

  private readonly flushDirty = (): void => {
    this.flushScheduled = false;
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; i++) {
      const connection = dirty[i]!;
      connection.dirty = false;
      connection.flush();
    }
    dirty.length = 0;
  };
}
