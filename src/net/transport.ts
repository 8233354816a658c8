// What a `Connection` needs of the socket under it. Two adapters implement it: TCP (a Bun
// Socket, `tcp-transport.ts`) and WebSocket (a Bun ServerWebSocket, `websocket-transport.ts`).
// The connection owns framing, its bounded outbound queue and the pause/resume bookkeeping;
// a transport only moves bytes, so both kinds share the same RequestHandler, ring, drain and hub.

/**
 * A byte pipe to one client.
 *
 * `write` never buffers beyond what the transport itself must: it takes what it can now and
 * says how much. The connection keeps the rest and calls `write` again when the transport's
 * `drain` event fires.
 */
export interface Transport {
  /**
   * Offers `bytes[offset, offset + length)`, which holds whole frames only. Returns how many
   * bytes were taken (0..length), or -1 when the transport has closed.
   */
  write(bytes: Uint8Array, offset: number, length: number): number;
  /** Stops reading from the client (its sends then back up on it). */
  pause(): void;
  resume(): void;
  /** Closes gracefully: what was taken is still delivered. */
  end(): void;
  /**
   * Ends the server's side and nothing else (shutdown): what was taken is still delivered, then
   * the end of the stream (TCP: FIN; WebSocket: a normal close frame). The socket is released
   * only when the client closes its side (the `close` event) or is terminated: releasing it with
   * the client's bytes unread would make the kernel send a reset, which can destroy replies the
   * client has received but not read yet.
   */
  halfClose(): void;
  /**
   * True when the `close` event after `halfClose` waits for the client's side (TCP). False when
   * the runtime reports it at once and finishes the close out of sight (Bun's WebSocket): the
   * server then gives the client a moment before it exits.
   */
  readonly closeWaitsForClient: boolean;
  /** Drops the connection now. */
  terminate(): void;
  readonly remoteAddress: string;
}
