// The seam between the client's engine (core.ts) and the bytes' way to the server. A transport
// only moves bytes: it knows nothing of frames, requests or subscriptions. Adapters live in
// transports/: Bun TCP/TLS, Node's node:net/node:tls, and the WebSocket (browsers, /ws).

/** What a transport tells the engine. Called only once `connect` has resolved. */
export interface TransportHandlers {
  /** Bytes received, in order. The chunk is only valid during the call. */
  data(chunk: Uint8Array): void;
  /** The transport takes bytes again after a write that took fewer than offered. */
  drain(): void;
  /** The connection failed (the engine gives up on it; `close` follows). */
  error(error: Error): void;
  /** The connection closed, with why when it was not a clean close. Called once. */
  close(error?: Error): void;
}

/** One open connection. */
export interface Transport {
  /**
   * Offers bytes[offset, offset + length), which hold whole frames except after a short
   * write. Returns how many it took (it copies what it keeps): fewer than offered means "full:
   * offer the rest after `drain`"; -1 means the connection is closing.
   */
  write(bytes: Uint8Array, offset: number, length: number): number;
  /** Stops reading (backpressure from a consumer that is behind); a no-op where impossible. */
  pause(): void;
  resume(): void;
  /** Closes after what was written; the peer's close then ends it. */
  end(): void;
  /** Closes now. */
  terminate(): void;
}

/** Opens connections to one server: the engine calls it again to reconnect. */
export interface TransportFactory {
  /** Where it connects, for messages ("127.0.0.1:7400", "ws://host/ws"). */
  readonly target: string;
  /**
   * Resolves once the connection is ready for frames (after the TLS handshake, with TLS);
   * rejects if it cannot be made. Handlers are called only after it resolved.
   */
  connect(handlers: TransportHandlers): Promise<Transport>;
}

/** TLS for the TCP transports (a server with GAVEL_TLS_CERT). */
export interface ClientTlsOptions {
  /** PEM certificate(s) to trust instead of the system's CAs (e.g. a self-signed server's). */
  ca?: string | string[];
  /** Default true. False accepts any certificate: for tests only. */
  rejectUnauthorized?: boolean;
  /** The name the certificate must carry (and the SNI sent); defaults to `host`. */
  serverName?: string;
}

/** Where a TCP transport connects. */
export interface TcpTarget {
  host: string;
  port: number;
  /** `true` trusts the system's CAs; an object can name a CA, a server name, or turn checks off. */
  tls?: boolean | ClientTlsOptions;
}
