// How a stopping server lets go of its connections without discarding a reply (see
// docs/protocol.md, ERROR SHUTTING_DOWN, and docs/reliability.md, "Graceful shutdown").
//
// 1. Grace period (GAVEL_SHUTDOWN_GRACE_MS): every connection is still read. Requests already
//    queued are answered by the store; requests read now get ERROR SHUTTING_DOWN with their req.
//    A connection is closed as soon as it owes nothing and its client has gone quiet; at the end
//    of the grace period every connection is, whatever it still sends.
// 2. Closing: what is owed is written, then only the server's side ends (TCP FIN, WebSocket close
//    frame). The socket stays open and read (what arrives now is dropped: the client sees the end
//    of the stream and knows that whatever it has no reply for was not processed) until the
//    client closes its side. Releasing it earlier with unread input would make the kernel send a
//    reset, and a reset destroys replies the client has received but not read yet.
// 3. Final deadline (grace + GAVEL_SHUTDOWN_LINGER_MS): what is still open is dropped.

import type { Connection } from "./connection.ts";

/** A connection whose client sent nothing this long (and that owes nothing) is closed early. */
export const SHUTDOWN_QUIET_MS = 50;
/** How often the stop sequence looks at its connections. */
const SHUTDOWN_POLL_MS = 10;
/**
 * Bun reports a WebSocket closed as soon as the server sends its close frame and finishes the
 * close out of sight: the stop sequence cannot see the client's answer, so it waits this long
 * after the last one (within the final deadline) before the process lets the sockets go. A
 * client that reads its socket answers within a round trip.
 */
export const WEBSOCKET_CLOSE_WAIT_MS = 250;

/** When the grace period and the final deadline end; `hurry()` ends both now. */
export class ShutdownDeadlines {
  graceEnd: number;
  finalEnd: number;

  constructor(now: number, graceMs: number, lingerMs: number) {
    this.graceEnd = now + graceMs;
    this.finalEnd = this.graceEnd + lingerMs;
  }

  /** Stop at once: no more reading, no more waiting for clients (a second signal). */
  hurry(now: number = Date.now()): void {
    this.graceEnd = Math.min(this.graceEnd, now);
    this.finalEnd = Math.min(this.finalEnd, now);
  }
}

/** What the stop sequence did, for the log line. */
export interface ShutdownOutcome {
  /** Connections still open at the final deadline, dropped. */
  dropped: number;
}

/**
 * Runs steps 1-3 over `connections` (which the transports' close events shrink) and resolves
 * once none is left. The caller has stopped accepting and switched requests to SHUTTING_DOWN.
 */
export async function closeConnectionsGracefully(connections: ReadonlySet<Connection>, deadlines: ShutdownDeadlines): Promise<ShutdownOutcome> {
  // A connection is quiet when nothing arrived between two looks, an I/O poll apart, and for
  // SHUTDOWN_QUIET_MS: a clock check alone could pass while a stalled process had bytes unread.
  const activitySeen = new Map<Connection, number>();
  let lastWebSocketClose = 0;
  for (;;) {
    const now = Date.now();
    const graceOver = now >= deadlines.graceEnd;
    for (const connection of connections) {
      if (connection.closing) {
        // Closing before the shutdown (MALFORMED, a refusal) or waiting for its last replies.
        connection.flush();
        continue;
      }
      const quiet = activitySeen.get(connection) === connection.lastActivity && now - connection.lastActivity >= SHUTDOWN_QUIET_MS;
      activitySeen.set(connection, connection.lastActivity);
      if (!graceOver && !(quiet && connection.owesNothing)) continue;
      connection.closeGracefully();
      if (!connection.transport.closeWaitsForClient) lastWebSocketClose = now;
      connection.flush();
    }
    if (connections.size === 0 || now >= deadlines.finalEnd) break;
    await Bun.sleep(SHUTDOWN_POLL_MS);
  }
  let dropped = 0;
  for (const connection of connections) {
    connection.abort();
    dropped++;
  }
  if (lastWebSocketClose > 0) {
    while (Date.now() < Math.min(lastWebSocketClose + WEBSOCKET_CLOSE_WAIT_MS, deadlines.finalEnd)) await Bun.sleep(SHUTDOWN_POLL_MS);
  }
  return { dropped };
}
