// The SDK's client: the engine (core.ts) over TCP or TLS, with the transport chosen for the
// runtime (Bun.connect under Bun, node:net under Node), or any transport passed in.
// See docs/sdk.md.

import { ClientCore, type CoreOptions } from "./core.ts";
import type { ClientTlsOptions, TransportFactory } from "./transport.ts";
import { runtimeTcpTransport } from "./transports/runtime.ts";

/** Where `connect` goes when no host is given. */
export const DEFAULT_HOST = "127.0.0.1";

export interface ConnectOptions extends Omit<CoreOptions, "transport"> {
  /** Defaults to {@link DEFAULT_HOST}. */
  host?: string;
  /** The server's TCP port (GAVEL_PORT). Required unless `transport` is given. */
  port?: number;
  /**
   * Connect with TLS (a server with GAVEL_TLS_CERT): `true` trusts the system's CAs; an object
   * can name the CA to trust (PEM), the name to verify (and send as SNI) instead of `host`, or
   * turn verification off. A certificate the client does not trust fails `connect`.
   */
  tls?: boolean | ClientTlsOptions;
  /**
   * Another way to the server instead of TCP to host:port, e.g.
   * `webSocketTransport("ws://host:7401/ws")` or `nodeNetTransport({ host, port })`.
   */
  transport?: TransportFactory;
}

/**
 * A connection to a Gavel server speaking the binary bid protocol (see {@link ClientCore} for
 * requests, subscriptions and reconnect).
 *
 * @example
 * ```ts
 * import { GavelClient } from "@gavel/client";
 *
 * const client = await GavelClient.connect({ port: 7400 });
 * const result = await client.bid(7, 42, 15_050);
 * if (result.statusName === "ACCEPTED") console.log("leading at", result.amount);
 *
 * // Pipelined: all three leave in one write, replies may come in any order.
 * const results = await Promise.all([client.bid(7, 42, 16_000), client.bid(7, 42, 17_000), client.ping()]);
 * await client.close();
 * ```
 */
export class GavelClient extends ClientCore {
  /**
   * Opens a connection to a Gavel server. The first connection must succeed (it rejects with
   * GavelConnectionError otherwise); `reconnect` covers later drops.
   *
   * @example
   * ```ts
   * const client = await GavelClient.connect({ host: "10.0.0.5", port: 7070 });
   * const live = await GavelClient.connect({ port: 7070, reconnect: { maxDelayMs: 2_000 } });
   * ```
   */
  static override connect(options: ConnectOptions): Promise<GavelClient> {
    let transport = options.transport;
    if (transport === undefined) {
      if (options.port === undefined) return Promise.reject(new TypeError("connect needs a port (or a transport)"));
      transport = runtimeTcpTransport({ host: options.host ?? DEFAULT_HOST, port: options.port, tls: options.tls });
    }
    return ClientCore.start(new GavelClient({ ...options, transport }));
  }
}
