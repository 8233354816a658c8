// The server factory: wires transports (TCP, WebSocket), ring, drain, store and admin API together.

import type { Socket, TCPSocketListener } from "bun";
import type { Config } from "./config.ts";
import { ADMIN_PORT_OFF } from "./config/settings.ts";
import { Connection } from "./net/connection.ts";
import { RequestHandler } from "./net/request-handler.ts";
import { SubscriptionHub } from "./live/subscription-hub.ts";
import { BidRing } from "./queue/bid-ring.ts";
import { Drain } from "./queue/drain.ts";
import { ErrorCode } from "./protocol/constants.ts";
import { openStore } from "./store/open-store.ts";
import type { Store } from "./store/store.ts";
import { startAdminServer } from "./http/admin.ts";
import { Outbox } from "./net/outbox.ts";
import { ReplyPath } from "./net/reply-path.ts";
import { Closer } from "./auction/closer.ts";
import { TcpTransport } from "./net/tcp-transport.ts";
import type { Transport } from "./net/transport.ts";
import { createWebSocketGateway } from "./http/websocket-gateway.ts";
import { serveLivePage } from "./http/live-page.ts";
import { TokenVerifier } from "./auth/token-verifier.ts";
import { BidRateLimiter } from "./net/limits/bid-rate-limiter.ts";
import { ConnectionGuard } from "./net/limits/connection-guard.ts";
import { createLogger, type LogFormat, type LogLevel } from "./log/logger.ts";
import { sinkFor, type LogSink } from "./log/log-sink.ts";
import { Limit, LimitLog } from "./log/limit-log.ts";
import { closeConnectionsGracefully, ShutdownDeadlines } from "./net/connection-shutdown.ts";
import { CloseResult, ServerCounters } from "./metrics/counters.ts";
import { createMetricsRegistry } from "./metrics/registry.ts";
import { startTracing } from "./metrics/tracing.ts";
import { CircuitBreakerStore } from "./store/circuit-breaker.ts";
import { WebhookDispatcher } from "./notify/webhook-dispatcher.ts";
import { WebhookCounters } from "./metrics/webhook-counters.ts";

/**
 * Batches handed to an asynchronous store (Redis) at once. A synchronous store hands each back
 * before the next is taken, so for it this only sizes the batch pool.
 */
const BATCHES_IN_FLIGHT = 8;
/** A connection pauses reading once this share of its outbound limit is queued. */
const OUTBOUND_HIGH_WATER_FRACTION = 0.25;
/** How often start-up looks again whether the feed is live. */
const POLL_MS = 10;
/** How often slow subscribers are looked at (conflated updates sent, stuck ones dropped). */
const SWEEP_INTERVAL_MS = 100;
const FEED_START_TIMEOUT_MS = 10_000;

export interface GavelServer {
  readonly config: Config;
  readonly store: Store;
  /** The TCP port actually bound (useful with port 0). */
  readonly port: number;
  readonly httpPort: number;
  /** The admin listener's port (GAVEL_ADMIN_PORT), or null when the admin API is on httpPort. */
  readonly adminPort: number | null;
  /** Live connections. */
  readonly connectionCount: number;
  /**
   * Stops accepting, keeps reading for the grace period and answers every request read, closes
   * each connection without discarding a reply (FIN, then waits for the client's close up to the
   * final deadline), closes the store. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
  /**
   * The same, but ends the grace period and the final deadline now: what is owed and written is
   * sent, every connection still open is dropped, the store is closed.
   */
  stopNow(): Promise<void>;
}

/** The default log: the settings' logger; every line passes redact() on its way out (log-sink.ts). */
function configuredLog(config: Config): LogSink {
  const format = config.logFormat === "" ? undefined : (config.logFormat as LogFormat);
  return sinkFor(createLogger({ level: config.logLevel as LogLevel, format }), "warn");
}

/**
 * Starts a Gavel server.
 * @example
 * const server = await startServer(loadConfig(process.env));
 * console.log(server.port);
 * await server.stop();
 */
export async function startServer(config: Config, store?: Store, log: LogSink = configuredLog(config)): Promise<GavelServer> {
  const activeStore = store ?? (await openStore(config, log));
  const ring = new BidRing<Connection>(config.queueCapacity);
  // GAVEL_METRICS=off: null, and every counting site is one null check.
  const counters = config.metrics === "on" ? new ServerCounters() : null;
  // No OTEL_EXPORTER_OTLP_ENDPOINT: null, and OpenTelemetry is never loaded.
  const tracing = config.tracing === null ? null : await startTracing(config.tracing, config.traceSample, config.store);
  if (config.tracing !== null) {
    log(`gavel: tracing to ${config.tracing.tracesUrl} as ${config.tracing.serviceName}, sampling ${config.traceSample} of store calls`, { level: "info", event: "tracing_started" });
  }
  const connections = new Set<Connection>();
  const outbox = new Outbox();
  const { markDirty } = outbox;

  const hub = new SubscriptionHub<Connection>(
    activeStore,
    { subscriberHighWater: config.subscriberBufferBytes, slowSubscriberMs: config.slowSubscriberMs, maxSubscriptions: config.maxSubscriptions },
    markDirty,
    counters,
    activeStore.feed ?? null,
  );
  // With a shared store the UPDATEs come back through its feed, to every node alike.
  const feed = activeStore.feed;
  const fanOutLocally = feed === undefined;
  if (feed !== undefined) {
    feed.onFrames((frames) => hub.deliverFrames(frames));
    feed.onResync(() => hub.resync());
    // The store lost data: end those auctions' subscriptions before any new frame could mix in.
    feed.onReset((affects, reason) => hub.resetAuctions([...hub.auctionIds].filter(affects), reason));
    // Anything published before the feed is subscribed would never reach this node.
    const deadline = Date.now() + FEED_START_TIMEOUT_MS;
    while (!feed.live) {
      if (Date.now() > deadline) throw new Error("the store's update feed did not subscribe in time");
      await Bun.sleep(POLL_MS);
    }
  }
  const replyPath = new ReplyPath({ ring, outbox, fanOut: fanOutLocally ? hub : null, counters });
  const limitLog = new LimitLog(log);
  const drain = new Drain(
    ring,
    activeStore,
    { batchSize: config.batchSize, maxInFlight: BATCHES_IN_FLIGHT, counters, tracing },
    replyPath.deliver,
    replyPath.resumeReaders,
  );
  const handler = new RequestHandler({
    ring,
    drain,
    store: activeStore,
    hub,
    markDirty,
    replyPath,
    verifier: config.auth === null ? null : new TokenVerifier(config.auth),
    bidLimiter: config.bidRate > 0 ? new BidRateLimiter(config.bidRate, config.bidBurst) : null,
    limitLog,
  });

  const limits = {
    maxOutbound: config.maxOutboundBytes,
    outboundHighWater: Math.floor(config.maxOutboundBytes * OUTBOUND_HIGH_WATER_FRACTION),
  };

  // Connection limits (total, per address) and the idle / slow-frame sweep.
  const guard = new ConnectionGuard(config);

  // Every connection, TCP or WebSocket, comes in and goes out through these two.
  let accepting = true;
  const accept = (transport: Transport): Connection => {
    const connection: Connection = new Connection(transport, limits, (type, bytes, payload, length): boolean =>
      handler.handleFrame(connection, type, bytes, payload, length),
      counters !== null,
    );
    const refusal = guard.admit(connection, connections.size);
    if (refusal !== null) {
      limitLog.hit(Limit.CONNECTIONS);
      connection.queueError(0, ErrorCode.TOO_MANY_CONNECTIONS, refusal);
      connection.closeAfterFlush();
      // Written at the end of the tick: the caller first attaches the connection to its socket.
      markDirty(connection);
      return connection;
    }
    connections.add(connection);
    return connection;
  };
  const release = (connection: Connection): void => {
    connection.closed = true;
    connections.delete(connection);
    guard.release(connection);
    hub.dropConnection(connection);
  };

  const listener: TCPSocketListener<Connection> = Bun.listen<Connection>({
    hostname: config.host,
    port: config.port,
    // Workers share the port; the kernel spreads connections over them. bun-types declares
    // reusePort only for connect options, hence the spread below.
    ...({ reusePort: config.workers > 1 } as object),
    tls: config.tls ?? undefined,
    socket: {
      binaryType: "uint8array",
      open(socket: Socket<Connection>) {
        socket.data = accept(new TcpTransport(socket));
      },
      data(socket: Socket<Connection>, chunk: Uint8Array) {
        const connection = socket.data;
        if (connection.closing || connection.closed) return;
        connection.receive(chunk);
      },
      // With TLS, a client that gives up during the handshake is closed (or errors) without
      // `open` ever having run: there is no connection to flush or release.
      drain(socket: Socket<Connection>) {
        socket.data?.flush();
      },
      close(socket: Socket<Connection>) {
        if (socket.data !== undefined) release(socket.data);
      },
      error(socket: Socket<Connection>) {
        socket.data?.abort();
      },
    },
  });

  const closer = new Closer(
    (limit) => (tracing === null ? activeStore.closeDue(limit) : tracing.closeDue(() => activeStore.closeDue(limit))),
    config.closeIntervalMs,
    (closed) => {
      counters?.countClosed(closed.winner === 0 ? CloseResult.UNSOLD : CloseResult.SOLD);
      if (fanOutLocally) hub.deliverClosed(closed.id, closed.seq, closed.winner, closed.amount);
      const result = closed.winner === 0 ? "unsold" : "sold";
      log(`gavel: auction ${closed.id} closed, ${result}`, { level: "info", event: "auction_closed", auction: closed.id, winner: closed.winner, amount: closed.amount, result });
    },
    log,
  );
  closer.start();
  // Webhooks (GAVEL_WEBHOOK_URL): the store writes the outbox; this sends it, off the bid path.
  const webhookCounters = new WebhookCounters();
  const outboxReader = activeStore.outbox;
  const dispatcher =
    outboxReader === undefined
      ? null
      : new WebhookDispatcher(
          outboxReader,
          { url: config.webhookUrl, secret: config.webhookSecret, timeoutMs: config.webhookTimeoutMs, retryMaxMs: config.webhookRetryMaxMs, inFlight: config.webhookInFlight },
          webhookCounters,
          log,
        );
  dispatcher?.start();
  limitLog.start();
  guard.start(connections);
  hub.startSweeps(SWEEP_INTERVAL_MS);

  const gateway = createWebSocketGateway({
    accept,
    release,
    get accepting() {
      return accepting;
    },
    maxOutbound: config.maxOutboundBytes,
  });
  const adminListener = config.adminPort === ADMIN_PORT_OFF ? null : { host: config.adminHost, port: config.adminPort };
  const admin = startAdminServer({ host: config.host, port: config.httpPort, adminListener, adminToken: config.adminToken, reusePort: config.workers > 1, tls: config.tls }, activeStore, {
    onCancelled(closed) {
      counters?.countClosed(CloseResult.CANCELLED);
      if (fanOutLocally) hub.deliverClosed(closed.id, closed.seq, closed.winner, closed.amount);
    },
    extraFetch(request, server) {
      const upgraded = gateway.fetch(request, server);
      return upgraded !== undefined ? upgraded : serveLivePage(request);
    },
    websocket: gateway.websocket,
    shuttingDown: () => !accepting,
    log,
    metrics:
      counters === null
        ? null
        : createMetricsRegistry({
            counters,
            ringDepth: () => ring.length,
            connections: () => {
              let tcp = 0;
              for (const connection of connections) if (connection.transport instanceof TcpTransport) tcp++;
              return { tcp, ws: connections.size - tcp };
            },
            subscriptions: () => hub.subscriptionCount,
            storeUp: () => activeStore.unavailableReason() === null,
            circuitOpen: () => activeStore instanceof CircuitBreakerStore && activeStore.state === "open",
            ...(outboxReader === undefined ? {} : { webhooks: { counters: webhookCounters, backlog: () => outboxReader.backlog() } }),
          }),
  });

  let stopping: Promise<void> | null = null;
  let deadlines: ShutdownDeadlines | null = null;
  // The sequence: docs/reliability.md ("Graceful shutdown") and src/net/connection-shutdown.ts.
  const stop = async () => {
    deadlines = new ShutdownDeadlines(Date.now(), config.shutdownGraceMs, config.shutdownLingerMs);
    listener.stop(false);
    accepting = false;
    handler.shuttingDown = true;
    log(`gavel: stopping: listener closed, answering ${connections.size} connections`, { level: "info", event: "shutdown", step: "listener_closed", connections: connections.size });
    const { dropped } = await closeConnectionsGracefully(connections, deadlines);
    if (dropped > 0) log(`gavel: ${dropped} connections still open at the shutdown deadline were dropped`);
    log("gavel: stopping: connections closed", { level: "info", event: "shutdown", step: "connections_closed", dropped });
    // Bids of clients that left before their replies: let the store finish them (bounded by
    // the store's own timeout) rather than close it under them.
    const drainLeft = deadlines.finalEnd - Date.now();
    if (drainLeft > 0) await Promise.race([drain.whenIdle(), Bun.sleep(drainLeft)]);
    listener.stop(true);
    closer.stop();
    // Before the store closes: an event it no longer sends stays in the outbox for the next start.
    await dispatcher?.stop();
    limitLog.stop();
    hub.stopSweeps();
    guard.stop();
    await admin.stop(true);
    log("gavel: stopping: HTTP closed, closing the store", { level: "info", event: "shutdown", step: "http_closed" });
    await activeStore.close();
    log("gavel: stopping: store closed", { level: "info", event: "shutdown", step: "store_closed" });
    // The last spans (bounded wait: a collector that is down must not hold the stop).
    await tracing?.stop();
  };

  return {
    config,
    store: activeStore,
    port: listener.port,
    httpPort: admin.port,
    adminPort: admin.adminPort,
    get connectionCount() {
      return connections.size;
    },
    stop: () => (stopping ??= stop()),
    stopNow: () => {
      stopping ??= stop();
      deadlines?.hurry();
      return stopping;
    },
  };
}
