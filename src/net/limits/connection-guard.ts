// Connection limits, TCP and WebSocket alike: how many connections in all
// (GAVEL_MAX_CONNECTIONS) and from one address (GAVEL_MAX_CONN_PER_IP), both answered with
// ERROR TOO_MANY_CONNECTIONS and a close; and a sweep that closes connections whose client
// has sent nothing for GAVEL_IDLE_MS, or has held part of a frame for GAVEL_FRAME_TIMEOUT_MS
// (slowloris: bytes trickled to keep a socket and its buffers forever).
//
// Why a sweep with timestamps: Bun's socket.timeout only notifies, on a ~4 s grid. Reading
// that the server itself has paused (backpressure, an AUTH being verified) is not the
// client's idleness: such connections have their clocks restarted instead.

import type { Connection } from "../connection.ts";

export interface ConnectionLimitSettings {
  /** 0 = no limit, for each. */
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleMs: number;
  frameTimeoutMs: number;
}

/** The sweep runs this many times per shortest timeout, within the bounds below. */
const SWEEPS_PER_TIMEOUT = 4;
const MIN_SWEEP_MS = 25;
const MAX_SWEEP_MS = 1_000;
/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; count them as a.b.c.d. */
const IPV4_MAPPED_PREFIX = "::ffff:";

export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Connections the sweep closed, for tests and logs. */
  idleClosed = 0;
  slowFrameClosed = 0;

  constructor(private readonly settings: ConnectionLimitSettings) {}

  /**
   * Counts a new connection in, or says why it is refused (the ERROR's message). `live` is how
   * many connections are open besides it.
   */
  admit(connection: Connection, live: number): string | null {
    const { maxConnections, maxConnectionsPerIp } = this.settings;
    if (maxConnections > 0 && live >= maxConnections) return `server holds its limit of ${maxConnections} connections`;
    if (maxConnectionsPerIp === 0) return null;
    const address = addressKey(connection.remoteAddress);
    const count = this.perAddress.get(address) ?? 0;
    if (count >= maxConnectionsPerIp) return `${address} holds its limit of ${maxConnectionsPerIp} connections`;
    this.perAddress.set(address, count + 1);
    connection.countedAddress = address;
    return null;
  }

  /** The connection has closed (admitted or not). */
  release(connection: Connection): void {
    const address = connection.countedAddress;
    if (address === null) return;
    connection.countedAddress = null;
    const count = this.perAddress.get(address)! - 1;
    if (count === 0) this.perAddress.delete(address);
    else this.perAddress.set(address, count);
  }

  /** Connections counted against `address` now. */
  connectionsFrom(address: string): number {
    return this.perAddress.get(addressKey(address)) ?? 0;
  }

  /** Sweeps `connections` periodically, when a timeout is set. */
  start(connections: Iterable<Connection>): void {
    const { idleMs, frameTimeoutMs } = this.settings;
    const shortest = Math.min(idleMs || Infinity, frameTimeoutMs || Infinity);
    if (shortest === Infinity) return;
    const every = Math.min(MAX_SWEEP_MS, Math.max(MIN_SWEEP_MS, Math.floor(shortest / SWEEPS_PER_TIMEOUT)));
    this.timer = setInterval(() => this.sweep(connections, Date.now()), every);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Closes the idle and the slow-frame connections among `connections`. */
  sweep(connections: Iterable<Connection>, now: number): void {
    const { idleMs, frameTimeoutMs } = this.settings;
    for (const connection of connections) {
      if (connection.closing || connection.closed) continue;
      if (connection.isPaused || connection.assembler.isSuspended || connection.pending > 0) {
        // The server is not reading, or the client waits on it: neither clock runs.
        connection.lastActivity = now;
        if (connection.partialSince !== 0) connection.partialSince = now;
        continue;
      }
      if (idleMs > 0 && now - connection.lastActivity > idleMs) {
        this.idleClosed++;
        close(connection);
      } else if (frameTimeoutMs > 0 && connection.assembler.hasPartialFrame) {
        // A partial frame left behind by a resumed backlog starts its clock here.
        if (connection.partialSince === 0) connection.partialSince = now;
        else if (now - connection.partialSince > frameTimeoutMs) {
          this.slowFrameClosed++;
          close(connection);
        }
      }
    }
  }
}

/**
 * Closes without an ERROR (the contract has no code for either case): gracefully when nothing
 * is owed to the client, at once when replies are still queued (it is not reading them).
 */
function close(connection: Connection): void {
  connection.closeAfterFlush();
  connection.flush();
  if (!connection.closed && connection.queuedBytes > 0) connection.abort();
}

function addressKey(address: string): string {
  return address.startsWith(IPV4_MAPPED_PREFIX) ? address.slice(IPV4_MAPPED_PREFIX.length) : address;
}
