// Every setting, once: its variable, flag, kind, default, bounds and meaning. The typed Config
// (src/config.ts), the defaults, validation, `--help` and README's settings table are all
// derived from this table, so a setting added here is parsed, checked and documented at once.

/** This machine's hard open-file limit is 20,000; Bun spins at the limit, so refuse before it. */
export const DEFAULT_MAX_CONNECTIONS = 16_000;

const MAX_PORT = 65_535;
/** The ring is typed arrays of this many slots at most (16M: ~400 MB). */
const MAX_QUEUE = 1 << 24;
/** One SQLite log row holds one batch; 64k bids keep it under a few MB. */
const MAX_BATCH = 65_536;
/** Redis Cluster has 16,384 slots: more groups than that cannot spread further. */
const MAX_REDIS_SHARDS = 16_384;
const MAX_COUNT = 1_000_000;
/** WAIT for more replicas than any real deployment runs is a typo. */
const MAX_WAIT_REPLICAS = 64;
const KIB = 1024;
const MIB = KIB * KIB;
const GIB = KIB * MIB;
const MIN_OUTBOUND = 64 * KIB;
const MIN_SUBSCRIBER_BUFFER = KIB;
const MAX_BID_RATE = 10_000_000;
/** GAVEL_BID_BURST when unset: two seconds' worth of bids. */
export const DEFAULT_BURST_SECONDS = 2;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const TEN_MINUTES_MS = 600_000;
const MINUTE_MS = 60_000;
/** Below this a busy but healthy Redis (a large batch, a slow disk's fsync) would time out. */
const MIN_REDIS_TIMEOUT_MS = 50;
/** An open breaker probes at most this often. */
const MIN_BREAKER_COOLDOWN_MS = 10;
/** The closer runs at most this often. */
const MIN_CLOSE_INTERVAL_MS = 10;
/** Subscriptions one connection may hold: past ten million it is no longer a bound. */
const MAX_SUBSCRIPTIONS = 10_000_000;
/** Each worker is a whole Bun process; past the core count they only contend. */
const MAX_WORKERS = 64;
/** A webhook POST given less than this would time out against a healthy receiver across a network. */
const MIN_WEBHOOK_TIMEOUT_MS = 100;
/** A webhook lease renewed every third of its life must outlast a few slow Redis round trips. */
const MIN_WEBHOOK_LEASE_MS = 300;
/** Retries of a webhook wait at least this long (the first retry's base delay). */
export const WEBHOOK_RETRY_BASE_MS = 100;
/** Webhook events held in memory at most: past a million it is no longer a bound. */
const MAX_WEBHOOK_IN_FLIGHT = 1_000_000;
/** GAVEL_ADMIN_PORT when unset: no admin listener of its own (the admin API is on GAVEL_HTTP_PORT). */
export const ADMIN_PORT_OFF = -1;

/** How a setting's text becomes a value. */
export const SettingKind = {
  /** Any text; empty means unset. */
  TEXT: "text",
  /** A whole number within [min, max]. */
  INTEGER: "integer",
  /** One of `choices`. */
  CHOICE: "choice",
  /** A decimal number within [min, max] (e.g. a ratio). */
  DECIMAL: "decimal",
} as const;
export type SettingKind = (typeof SettingKind)[keyof typeof SettingKind];

interface SettingBase {
  /** The environment variable; the flag is derived from it (see flagOf). */
  readonly env: string;
  /** One line for `--help` and README: what it does, for an operator. */
  readonly doc: string;
  /**
   * How the default reads in docs when it is not simply the value (derived from another
   * setting, or "off"); markdown, shown as is.
   */
  readonly defaultDoc?: string;
  /** Never printed (tokens, secrets, URLs with passwords). */
  readonly secret?: boolean;
}

export interface TextSetting extends SettingBase {
  readonly kind: typeof SettingKind.TEXT;
  readonly default: string;
}

export interface IntegerSetting extends SettingBase {
  readonly kind: typeof SettingKind.INTEGER;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export interface ChoiceSetting extends SettingBase {
  readonly kind: typeof SettingKind.CHOICE;
  readonly default: string;
  readonly choices: readonly string[];
}

export interface DecimalSetting extends SettingBase {
  readonly kind: typeof SettingKind.DECIMAL;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

export type Setting = TextSetting | IntegerSetting | ChoiceSetting | DecimalSetting;

/**
 * The settings, in the order `--help` and README list them. Keys are the Config field names
 * for plain settings; src/config.ts turns the few that need more (store, keys, files) into
 * their typed form.
 */
export const SETTINGS = {
  host: { env: "GAVEL_HOST", kind: SettingKind.TEXT, default: "127.0.0.1", doc: "address both listeners bind" },
  port: {
    env: "GAVEL_PORT",
    kind: SettingKind.INTEGER,
    default: 7400,
    min: 0,
    max: MAX_PORT,
    doc: "TCP port for bidders (binary protocol, `docs/protocol.md`)",
  },
  httpPort: { env: "GAVEL_HTTP_PORT", kind: SettingKind.INTEGER, default: 7401, min: 0, max: MAX_PORT, doc: "admin HTTP API" },
  adminPort: {
    env: "GAVEL_ADMIN_PORT",
    kind: SettingKind.INTEGER,
    default: ADMIN_PORT_OFF,
    min: 0,
    max: MAX_PORT,
    defaultDoc: "unset (the admin API is on `GAVEL_HTTP_PORT`)",
    doc: "when set, the admin API (writes, listing, bid history, `/metrics`) is served only on this port, every route needing `GAVEL_ADMIN_TOKEN` when that is set; `GAVEL_HTTP_PORT` keeps the live page, `/ws`, `/healthz`, `/readyz` and `GET /v1/auctions/:id`",
  },
  adminHost: { env: "GAVEL_ADMIN_HOST", kind: SettingKind.TEXT, default: "127.0.0.1", doc: "address the admin listener binds (with `GAVEL_ADMIN_PORT`)" },
  store: {
    env: "GAVEL_STORE",
    kind: SettingKind.CHOICE,
    default: "",
    choices: ["memory", "sqlite", "redis"],
    defaultDoc: "`sqlite` (`redis` when `REDIS_URL` is set)",
    doc: "`sqlite`, `redis` or `memory` (not durable: tests and benchmarks)",
  },
  dbPath: {
    env: "GAVEL_DB",
    kind: SettingKind.TEXT,
    default: "./data/gavel.db",
    doc: "SQLite file; one server at a time, by a lock on `<file>.lock` that ends with the process (a second one is refused, naming the owner's pid; a copy of the file carries no lock)",
  },
  retention: {
    env: "GAVEL_RETENTION",
    kind: SettingKind.TEXT,
    default: "",
    defaultDoc: "keep everything",
    doc: "closed auctions whose `ends_at` is older than this (e.g. `30d`, `12h`; at least `1m`) are deleted with their bids, a few at a time, on every store; the admin API then answers 404 for them (archive first: see docs/operations.md)",
  },
  redisUrl: {
    env: "REDIS_URL",
    kind: SettingKind.TEXT,
    default: "",
    secret: true,
    doc: "e.g. `redis://127.0.0.1:6379`; for a Redis Cluster any node, or several comma-separated (`redis://a:6379,b:6379`): cluster mode is detected",
  },
  redisShards: {
    env: "GAVEL_REDIS_SHARDS",
    kind: SettingKind.INTEGER,
    default: 16,
    min: 1,
    max: MAX_REDIS_SHARDS,
    doc: "auctions are grouped by `id % shards` under one Redis hash tag (spread evenly over a Redis Cluster's slots); fixed per deployment (docs/scaling.md)",
  },
  redisFeed: {
    env: "GAVEL_REDIS_FEED",
    kind: SettingKind.CHOICE,
    default: "all",
    choices: ["all", "subscribed"],
    doc: "`all`: every node receives every shard group's updates; `subscribed`: a node listens only to the groups of the auctions its clients follow (for many nodes with clients routed so each watches a subset of groups: docs/scaling.md)",
  },
  redisFeedLingerMs: {
    env: "GAVEL_REDIS_FEED_LINGER_MS",
    kind: SettingKind.INTEGER,
    default: 30_000,
    min: 0,
    max: DAY_MS,
    doc: "with `GAVEL_REDIS_FEED=subscribed`: how long a group's channel stays subscribed after its last local subscriber left, so a client coming back soon does not churn it",
  },
  redisSentinels: {
    env: "GAVEL_REDIS_SENTINELS",
    kind: SettingKind.TEXT,
    default: "",
    doc: "`host:port,...` of Redis Sentinels: Gavel asks them for the primary named by `GAVEL_REDIS_SENTINEL_NAME` and follows its failovers (`REDIS_URL`, if set, gives only credentials and `rediss://`)",
  },
  redisSentinelName: {
    env: "GAVEL_REDIS_SENTINEL_NAME",
    kind: SettingKind.TEXT,
    default: "",
    doc: "the primary's name in the Sentinels' configuration (with `GAVEL_REDIS_SENTINELS`)",
  },
  redisWaitReplicas: {
    env: "GAVEL_REDIS_WAIT_REPLICAS",
    kind: SettingKind.INTEGER,
    default: 0,
    min: 0,
    max: MAX_WAIT_REPLICAS,
    doc: "replicas that must hold each batch's writes (Redis `WAIT`) before its replies go out, so a failover loses no acknowledged bid; fewer within the timeout: the bids are UNCONFIRMED (0 = do not wait)",
  },
  redisWaitTimeoutMs: {
    env: "GAVEL_REDIS_WAIT_TIMEOUT_MS",
    kind: SettingKind.INTEGER,
    default: 500,
    min: 1,
    max: DAY_MS,
    doc: "how long a batch's `WAIT` waits for its replicas; must be below `GAVEL_REDIS_TIMEOUT_MS`",
  },
  queueCapacity: {
    env: "GAVEL_QUEUE",
    kind: SettingKind.INTEGER,
    default: 65_536,
    min: 1,
    max: MAX_QUEUE,
    doc: "bid ring capacity (a power of two); past 3/4 full, reading pauses; a full ring answers OVERLOADED",
  },
  batchSize: { env: "GAVEL_BATCH", kind: SettingKind.INTEGER, default: 1024, min: 1, max: MAX_BATCH, doc: "bids per store call" },
  adminToken: {
    env: "GAVEL_ADMIN_TOKEN",
    kind: SettingKind.TEXT,
    default: "",
    secret: true,
    doc: "when set, admin writes need `Authorization: Bearer <token>`",
  },
  metrics: {
    env: "GAVEL_METRICS",
    kind: SettingKind.CHOICE,
    default: "on",
    choices: ["on", "off"],
    doc: "`off`: nothing is counted on the bid path and `GET /metrics` answers 404",
  },
  traceSample: {
    env: "GAVEL_TRACE_SAMPLE",
    kind: SettingKind.DECIMAL,
    // One batch in a hundred: at full load that is still thousands of spans a minute.
    default: 0.01,
    min: 0,
    max: 1,
    doc: "with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the share of drain batches (and closer runs) traced, 0..1 (`docs/operations.md`, Tracing)",
  },
  maxConnections: {
    env: "GAVEL_MAX_CONNECTIONS",
    kind: SettingKind.INTEGER,
    default: DEFAULT_MAX_CONNECTIONS,
    min: 0,
    max: MAX_COUNT,
    doc: "connections beyond this get ERROR TOO_MANY_CONNECTIONS (0 = no limit)",
  },
  maxConnectionsPerIp: {
    env: "GAVEL_MAX_CONN_PER_IP",
    kind: SettingKind.INTEGER,
    // Off: bidders behind one NAT or load balancer share an address; the total limit still holds.
    default: 0,
    min: 0,
    max: MAX_COUNT,
    defaultDoc: "`0` (off)",
    doc: "connections from one address (TCP and WebSocket together) beyond this get ERROR TOO_MANY_CONNECTIONS",
  },
  idleMs: {
    env: "GAVEL_IDLE_MS",
    kind: SettingKind.INTEGER,
    // Five minutes: the live page PINGs every 10 s; an SDK client that only listens should too.
    default: 300_000,
    min: 0,
    max: DAY_MS,
    doc: "a connection whose client sends nothing this long is closed (keep alive with PING; 0 = never)",
  },
  frameTimeoutMs: {
    env: "GAVEL_FRAME_TIMEOUT_MS",
    kind: SettingKind.INTEGER,
    // A frame is at most 257 bytes: a client that cannot send it in 5 s is holding the socket.
    default: 5_000,
    min: 0,
    max: DAY_MS,
    doc: "a connection holding part of a frame this long is closed (slowloris; 0 = never)",
  },
  bidRate: {
    env: "GAVEL_BID_RATE",
    kind: SettingKind.INTEGER,
    // Off: a per-user rate is policy (a person bids a few times a minute, a trading client far
    // more), the load generator drives thousands of bids/s per user, and the ring already
    // protects the server (backpressure, then OVERLOADED).
    default: 0,
    min: 0,
    max: MAX_BID_RATE,
    defaultDoc: "`0` (off)",
    doc: "bids per second per user (a token bucket); past it, RESULT RATE_LIMITED",
  },
  bidBurst: {
    env: "GAVEL_BID_BURST",
    kind: SettingKind.INTEGER,
    // Derived from the rate when unset (src/config.ts).
    default: 0,
    min: 0,
    max: MAX_BID_RATE * DEFAULT_BURST_SECONDS,
    defaultDoc: `${DEFAULT_BURST_SECONDS} x \`GAVEL_BID_RATE\``,
    doc: "bids a user may send at once (the bucket's size)",
  },
  auth: {
    env: "GAVEL_AUTH",
    kind: SettingKind.CHOICE,
    default: "off",
    choices: ["off", "jwt"],
    doc: "`jwt`: every request but PING and AUTH needs a verified AUTH token first (see Security)",
  },
  jwtSecret: { env: "GAVEL_JWT_SECRET", kind: SettingKind.TEXT, default: "", secret: true, doc: "HS256 secret, at least 32 bytes" },
  jwtPublicKey: {
    env: "GAVEL_JWT_PUBLIC_KEY",
    kind: SettingKind.TEXT,
    default: "",
    doc: "instead of the secret: an Ed25519 (EdDSA) or P-256 (ES256) public key, as a PEM file path or the PEM itself",
  },
  tlsCert: {
    env: "GAVEL_TLS_CERT",
    kind: SettingKind.TEXT,
    default: "",
    doc: "PEM certificate (chain) file: the bid listener and the HTTP port speak TLS (`wss://` for `/ws`)",
  },
  tlsKey: { env: "GAVEL_TLS_KEY", kind: SettingKind.TEXT, default: "", doc: "its PEM private key file; set both or neither" },
  maxOutboundBytes: {
    env: "GAVEL_MAX_OUTBOUND",
    kind: SettingKind.INTEGER,
    default: 4 * MIB,
    min: MIN_OUTBOUND,
    max: GIB,
    doc: "bytes queued for one client before it is disconnected; reading pauses at a quarter of it",
  },
  shutdownGraceMs: {
    env: "GAVEL_SHUTDOWN_GRACE_MS",
    kind: SettingKind.INTEGER,
    default: 2000,
    min: 0,
    max: TEN_MINUTES_MS,
    doc: "on SIGTERM/SIGINT, how long to finish answering before closing",
  },
  shutdownLingerMs: {
    env: "GAVEL_SHUTDOWN_LINGER_MS",
    kind: SettingKind.INTEGER,
    default: 2000,
    min: 0,
    max: TEN_MINUTES_MS,
    doc: "after the grace period, how long a closed connection waits for its client to read the last replies and close, before it is dropped",
  },
  subscriberBufferBytes: {
    env: "GAVEL_SUBSCRIBER_BUFFER",
    kind: SettingKind.INTEGER,
    default: 256 * KIB,
    min: MIN_SUBSCRIBER_BUFFER,
    max: GIB,
    doc: "unsent bytes past which a subscriber gets only the latest UPDATE per auction",
  },
  slowSubscriberMs: {
    env: "GAVEL_SLOW_SUBSCRIBER_MS",
    kind: SettingKind.INTEGER,
    default: 10_000,
    min: 0,
    max: HOUR_MS,
    doc: "a subscriber stuck past that mark this long is disconnected (0 = never)",
  },
  maxSubscriptions: {
    env: "GAVEL_MAX_SUBSCRIPTIONS",
    kind: SettingKind.INTEGER,
    default: 1000,
    min: 1,
    max: MAX_SUBSCRIPTIONS,
    doc: "auctions one connection may follow, counting SUBSCRIBEs not yet answered; past it a SUBSCRIBE gets ERROR LIMIT",
  },
  closeIntervalMs: {
    env: "GAVEL_CLOSE_INTERVAL_MS",
    kind: SettingKind.INTEGER,
    default: 250,
    min: MIN_CLOSE_INTERVAL_MS,
    max: MINUTE_MS,
    doc: "how often each node closes the auctions that have ended",
  },
  workers: {
    env: "GAVEL_WORKERS",
    kind: SettingKind.INTEGER,
    default: 1,
    min: 1,
    max: MAX_WORKERS,
    doc: "server processes sharing the ports (Linux `SO_REUSEPORT`); more than 1 needs Redis and fixed ports",
  },
  redisTimeoutMs: {
    env: "GAVEL_REDIS_TIMEOUT_MS",
    kind: SettingKind.INTEGER,
    // A hung Redis holds a bid at most this long (see docs/reliability.md).
    default: 2_000,
    min: MIN_REDIS_TIMEOUT_MS,
    max: DAY_MS,
    doc: "a Redis batch (or command) without a reply this long fails: its bids get UNCONFIRMED (sent, fate unknown)",
  },
  breakerFailures: {
    env: "GAVEL_BREAKER_FAILURES",
    kind: SettingKind.INTEGER,
    default: 5,
    min: 0,
    max: MAX_COUNT,
    doc: "Redis batches failed in a row that open the circuit breaker (bids then UNAVAILABLE at once; 0 = no breaker)",
  },
  breakerCooldownMs: {
    env: "GAVEL_BREAKER_COOLDOWN_MS",
    kind: SettingKind.INTEGER,
    default: 1_000,
    min: MIN_BREAKER_COOLDOWN_MS,
    max: DAY_MS,
    doc: "how long the open breaker waits before it lets one probe batch through",
  },
  webhookUrl: {
    env: "GAVEL_WEBHOOK_URL",
    kind: SettingKind.TEXT,
    default: "",
    secret: true,
    defaultDoc: "off",
    doc: "`http(s)://` URL each webhook event (`outbid`, `won`, `closed`, `extended`) is POSTed to, at least once, signed (`docs/webhooks.md`); unset: no event is written",
  },
  webhookSecret: {
    env: "GAVEL_WEBHOOK_SECRET",
    kind: SettingKind.TEXT,
    default: "",
    secret: true,
    doc: "HMAC-SHA256 key of the `Gavel-Signature` header, at least 16 bytes; required with `GAVEL_WEBHOOK_URL`",
  },
  webhookTimeoutMs: {
    env: "GAVEL_WEBHOOK_TIMEOUT_MS",
    kind: SettingKind.INTEGER,
    default: 10_000,
    min: MIN_WEBHOOK_TIMEOUT_MS,
    max: MINUTE_MS,
    doc: "a webhook POST not answered with a 2xx this long fails and is retried",
  },
  webhookRetryMaxMs: {
    env: "GAVEL_WEBHOOK_RETRY_MAX_MS",
    kind: SettingKind.INTEGER,
    default: MINUTE_MS,
    min: WEBHOOK_RETRY_BASE_MS,
    max: HOUR_MS,
    doc: "longest wait between two tries of one webhook event (the wait doubles from 100 ms up to this, with jitter; tries never stop)",
  },
  webhookInFlight: {
    env: "GAVEL_WEBHOOK_IN_FLIGHT",
    kind: SettingKind.INTEGER,
    default: 1_000,
    min: 1,
    max: MAX_WEBHOOK_IN_FLIGHT,
    doc: "webhook events read from the outbox and not yet delivered, at most (the rest wait in the store)",
  },
  webhookLeaseMs: {
    env: "GAVEL_WEBHOOK_LEASE_MS",
    kind: SettingKind.INTEGER,
    default: 5_000,
    min: MIN_WEBHOOK_LEASE_MS,
    max: MINUTE_MS,
    doc: "Redis store: a node delivers a shard group's webhooks under a lease it renews; a node that dies passes its groups on this long after",
  },
  logLevel: {
    env: "GAVEL_LOG_LEVEL",
    kind: SettingKind.CHOICE,
    default: "info",
    choices: ["trace", "debug", "info", "warn", "error", "fatal", "silent"],
    doc: "the least severe log lines written (`docs/operations.md`, Logs)",
  },
  logFormat: {
    env: "GAVEL_LOG_FORMAT",
    kind: SettingKind.CHOICE,
    default: "",
    choices: ["json", "pretty"],
    defaultDoc: "`pretty` on a terminal, else `json`",
    doc: "`json`: one JSON object per line on stdout (`level`, `time`, `msg`, fields); `pretty`: readable lines",
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** The settings as a list, in table order. */
export const SETTING_LIST: readonly (Setting & { name: SettingName })[] = Object.entries(SETTINGS).map(([name, setting]) => ({
  ...(setting as Setting),
  name: name as SettingName,
}));

/** The variable's flag: GAVEL_HTTP_PORT -> --http-port, REDIS_URL -> --redis-url. */
export function flagOf(env: string): string {
  return `--${env.replace(/^GAVEL_/, "").toLowerCase().replaceAll("_", "-")}`;
}

/** Setting values by field name, as the table's defaults give them. */
export const Defaults = Object.fromEntries(SETTING_LIST.map((s) => [s.name, s.default])) as {
  readonly [K in SettingName]: (typeof SETTINGS)[K]["default"] extends number ? number : string;
};
