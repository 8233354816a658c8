// The server's settings: one typed object, parsed and validated once at start-up.
// Each setting is an environment variable with a matching CLI flag (GAVEL_HTTP_PORT ->
// --http-port, REDIS_URL -> --redis-url); a flag wins over the environment.

export type StoreKind = "memory" | "sqlite" | "redis";

export interface Config {
  host: string;
  port: number;
  httpPort: number;
  store: StoreKind;
  dbPath: string;
  redisUrl: string;
  /** Redis shard groups: auctions are tagged {g<id % shards>} (fixed per deployment). */
  redisShards: number;
  queueCapacity: number;
  batchSize: number;
  adminToken: string;
  maxConnections: number;
  maxOutboundBytes: number;
  shutdownGraceMs: number;
  /** A subscriber with more unsent bytes than this gets conflated updates. */
  subscriberBufferBytes: number;
  /** A subscriber stuck over that mark this long is disconnected (0 = never). */
  slowSubscriberMs: number;
  /** How often each node runs the closer. */
  closeIntervalMs: number;
  /** Server processes sharing the ports (SO_REUSEPORT); more than one needs the Redis store. */
  workers: number;
}

/** A bad setting: the message names it. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

/** This machine's hard open-file limit is 20,000; Bun spins at the limit, so refuse before it. */
export const DEFAULT_MAX_CONNECTIONS = 16_000;

export const Defaults = {
  host: "127.0.0.1",
  port: 7400,
  httpPort: 7401,
  dbPath: "./data/gavel.db",
  redisShards: 16,
  queueCapacity: 65_536,
  batchSize: 1024,
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  maxOutboundBytes: 4 * 1024 * 1024,
  shutdownGraceMs: 2000,
  subscriberBufferBytes: 256 * 1024,
  slowSubscriberMs: 10_000,
  closeIntervalMs: 250,
  workers: 1,
} as const;

/** Each worker is a whole Bun process; past the core count they only contend. */
const MAX_WORKERS = 64;

const MAX_PORT = 65_535;
const MAX_QUEUE = 1 << 24;
const MAX_BATCH = 65_536;

type Source = Record<string, string | undefined>;

/** Maps `--http-port 7401` / `--http-port=7401` to { GAVEL_HTTP_PORT: "7401" }. */
export function flagsToSettings(argv: readonly string[]): Source {
  const settings: Source = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(arg, "unexpected argument (settings are --name value)");
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(`--${name}`, "missing value");
    }
    const key = name === "redis-url" ? "REDIS_URL" : `GAVEL_${name.toUpperCase().replaceAll("-", "_")}`;
    if (!KNOWN_SETTINGS.has(key)) throw new ConfigError(`--${name}`, "unknown setting");
    settings[key] = value;
  }
  return settings;
}

const KNOWN_SETTINGS = new Set([
  "GAVEL_HOST",
  "GAVEL_PORT",
  "GAVEL_HTTP_PORT",
  "GAVEL_STORE",
  "GAVEL_DB",
  "REDIS_URL",
  "GAVEL_REDIS_SHARDS",
  "GAVEL_QUEUE",
  "GAVEL_BATCH",
  "GAVEL_ADMIN_TOKEN",
  "GAVEL_MAX_CONNECTIONS",
  "GAVEL_MAX_OUTBOUND",
  "GAVEL_SHUTDOWN_GRACE_MS",
  "GAVEL_SUBSCRIBER_BUFFER",
  "GAVEL_SLOW_SUBSCRIBER_MS",
  "GAVEL_CLOSE_INTERVAL_MS",
  "GAVEL_WORKERS",
]);

function integer(source: Source, name: string, fallback: number, min: number, max: number): number {
  const raw = source[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** Reads the settings from the environment and CLI flags; throws ConfigError on a bad value. */
export function loadConfig(env: Source, argv: readonly string[] = []): Config {
  const source: Source = { ...env, ...flagsToSettings(argv) };

  const redisUrl = source.REDIS_URL ?? "";
  const storeRaw = source.GAVEL_STORE || (redisUrl !== "" ? "redis" : "sqlite");
  if (storeRaw !== "memory" && storeRaw !== "sqlite" && storeRaw !== "redis") {
    throw new ConfigError("GAVEL_STORE", `must be memory, sqlite or redis, got "${storeRaw}"`);
  }
  if (storeRaw === "redis") {
    if (redisUrl === "") throw new ConfigError("REDIS_URL", "required when GAVEL_STORE is redis");
    if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError("REDIS_URL", `must start with redis:// or rediss://, got "${redisUrl}"`);
  }

  const queueCapacity = integer(source, "GAVEL_QUEUE", Defaults.queueCapacity, 1, MAX_QUEUE);
  if ((queueCapacity & (queueCapacity - 1)) !== 0) throw new ConfigError("GAVEL_QUEUE", `must be a power of two, got ${queueCapacity}`);
  const batchSize = integer(source, "GAVEL_BATCH", Defaults.batchSize, 1, MAX_BATCH);
  if (batchSize > queueCapacity) throw new ConfigError("GAVEL_BATCH", `must not exceed GAVEL_QUEUE (${queueCapacity})`);

  const port = integer(source, "GAVEL_PORT", Defaults.port, 0, MAX_PORT);
  const httpPort = integer(source, "GAVEL_HTTP_PORT", Defaults.httpPort, 0, MAX_PORT);
  if (port !== 0 && port === httpPort) throw new ConfigError("GAVEL_HTTP_PORT", `must differ from GAVEL_PORT (${port})`);

  const workers = integer(source, "GAVEL_WORKERS", Defaults.workers, 1, MAX_WORKERS);
  if (workers > 1 && storeRaw !== "redis") {
    throw new ConfigError("GAVEL_WORKERS", `more than 1 needs GAVEL_STORE=redis: each worker would hold its own ${storeRaw} auctions`);
  }
  if (workers > 1 && (port === 0 || httpPort === 0)) {
    throw new ConfigError("GAVEL_WORKERS", "more than 1 needs fixed ports (GAVEL_PORT, GAVEL_HTTP_PORT), not 0");
  }

  const host = source.GAVEL_HOST || Defaults.host;
  const dbPath = source.GAVEL_DB || Defaults.dbPath;

  return {
    host,
    port,
    httpPort,
    store: storeRaw,
    dbPath,
    redisUrl,
    redisShards: integer(source, "GAVEL_REDIS_SHARDS", Defaults.redisShards, 1, 16_384),
    queueCapacity,
    batchSize,
    adminToken: source.GAVEL_ADMIN_TOKEN ?? "",
    maxConnections: integer(source, "GAVEL_MAX_CONNECTIONS", Defaults.maxConnections, 0, 1_000_000),
    maxOutboundBytes: integer(source, "GAVEL_MAX_OUTBOUND", Defaults.maxOutboundBytes, 64 * 1024, 1 << 30),
    shutdownGraceMs: integer(source, "GAVEL_SHUTDOWN_GRACE_MS", Defaults.shutdownGraceMs, 0, 600_000),
    subscriberBufferBytes: integer(source, "GAVEL_SUBSCRIBER_BUFFER", Defaults.subscriberBufferBytes, 1024, 1 << 30),
    slowSubscriberMs: integer(source, "GAVEL_SLOW_SUBSCRIBER_MS", Defaults.slowSubscriberMs, 0, 3_600_000),
    closeIntervalMs: integer(source, "GAVEL_CLOSE_INTERVAL_MS", Defaults.closeIntervalMs, 10, 60_000),
    workers,
  };
}
