// The server's settings: one typed object, parsed and validated once at start-up.
// Each setting is an environment variable with a matching CLI flag (GAVEL_HTTP_PORT ->
// --http-port, REDIS_URL -> --redis-url); a flag wins over the environment.

import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

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
  /** After the grace period, how long closed connections wait for their clients to close. */
  shutdownLingerMs: number;
  /** A subscriber with more unsent bytes than this gets conflated updates. */
  subscriberBufferBytes: number;
  /** A subscriber stuck over that mark this long is disconnected (0 = never). */
  slowSubscriberMs: number;
  /** How often each node runs the closer. */
  closeIntervalMs: number;
  /** Server processes sharing the ports (SO_REUSEPORT); more than one needs the Redis store. */
  workers: number;
  /** GAVEL_AUTH=jwt: how AUTH tokens are verified (src/auth/); null when authentication is off. */
  auth: JwtAuth | null;
  /** GAVEL_TLS_CERT / GAVEL_TLS_KEY, read at start-up; null for plain TCP and HTTP. */
  tls: TlsPem | null;
  /** Per-user token bucket (src/net/limits/): bids per second, 0 = no limit. */
  bidRate: number;
  /** The bucket's size: bids a user may send at once. */
  bidBurst: number;
  /** Connections from one address (TCP and WebSocket together); 0 = no limit. */
  maxConnectionsPerIp: number;
  /** A connection the client sends nothing on for this long is closed; 0 = never. */
  idleMs: number;
  /** A connection holding part of a frame this long is closed (slowloris); 0 = never. */
  frameTimeoutMs: number;
  /** A Redis command unanswered this long fails (its bids get UNAVAILABLE). */
  redisTimeoutMs: number;
  /** Redis batches failed in a row that open the circuit breaker; 0 = no breaker. */
  breakerFailures: number;
  /** How long an open breaker answers UNAVAILABLE at once before it probes Redis again. */
  breakerCooldownMs: number;
}

/** JWT algorithms Gavel accepts: one per key kind, so a token cannot pick another. */
export type JwtAlgorithm = "HS256" | "EdDSA" | "ES256";

export interface JwtAuth {
  algorithm: JwtAlgorithm;
  key: KeyObject;
}

/** PEM texts of the certificate (chain) and its private key. */
export interface TlsPem {
  cert: string;
  key: string;
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
  /** A client that reads its socket closes within a round trip of the server's FIN. */
  shutdownLingerMs: 2000,
  subscriberBufferBytes: 256 * 1024,
  slowSubscriberMs: 10_000,
  closeIntervalMs: 250,
  workers: 1,
  /**
   * Off: a per-user rate is policy (a person bids a few times a minute, a trading client far
   * more), the load generator drives thousands of bids/s per user, and the ring already
   * protects the server (backpressure, then OVERLOADED).
   */
  bidRate: 0,
  /** Off: bidders behind one NAT or load balancer share an address; the total limit still holds. */
  maxConnectionsPerIp: 0,
  /** Five minutes: the live page PINGs every 10 s; an SDK client that only listens should too. */
  idleMs: 300_000,
  /** A frame is at most 257 bytes: a client that cannot send it in 5 s is holding the socket. */
  frameTimeoutMs: 5_000,
  /** A hung Redis holds a bid at most this long (see docs/reliability.md). */
  redisTimeoutMs: 2_000,
  breakerFailures: 5,
  breakerCooldownMs: 1_000,
} as const;

/** GAVEL_BID_BURST when unset: two seconds' worth of bids. */
const DEFAULT_BURST_SECONDS = 2;
/** RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits). */
const MIN_JWT_SECRET_BYTES = 32;
const MAX_BID_RATE = 10_000_000;
const MAX_TIMEOUT_MS = 86_400_000;
/** Below this a busy but healthy Redis (a large batch, a slow disk's fsync) would time out. */
const MIN_REDIS_TIMEOUT_MS = 50;
const MAX_BREAKER_FAILURES = 1_000_000;
/** An open breaker probes at most this often. */
const MIN_BREAKER_COOLDOWN_MS = 10;

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
  "GAVEL_SHUTDOWN_LINGER_MS",
  "GAVEL_SUBSCRIBER_BUFFER",
  "GAVEL_SLOW_SUBSCRIBER_MS",
  "GAVEL_CLOSE_INTERVAL_MS",
  "GAVEL_WORKERS",
  "GAVEL_AUTH",
  "GAVEL_JWT_SECRET",
  "GAVEL_JWT_PUBLIC_KEY",
  "GAVEL_TLS_CERT",
  "GAVEL_TLS_KEY",
  "GAVEL_BID_RATE",
  "GAVEL_BID_BURST",
  "GAVEL_MAX_CONN_PER_IP",
  "GAVEL_IDLE_MS",
  "GAVEL_FRAME_TIMEOUT_MS",
  "GAVEL_REDIS_TIMEOUT_MS",
  "GAVEL_BREAKER_FAILURES",
  "GAVEL_BREAKER_COOLDOWN_MS",
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

  const bidRate = integer(source, "GAVEL_BID_RATE", Defaults.bidRate, 0, MAX_BID_RATE);
  const bidBurst = integer(source, "GAVEL_BID_BURST", Math.max(1, bidRate * DEFAULT_BURST_SECONDS), 0, MAX_BID_RATE * DEFAULT_BURST_SECONDS);
  if (bidRate > 0 && bidBurst === 0) throw new ConfigError("GAVEL_BID_BURST", "must be at least 1 while GAVEL_BID_RATE is set");

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
    shutdownLingerMs: integer(source, "GAVEL_SHUTDOWN_LINGER_MS", Defaults.shutdownLingerMs, 0, 600_000),
    subscriberBufferBytes: integer(source, "GAVEL_SUBSCRIBER_BUFFER", Defaults.subscriberBufferBytes, 1024, 1 << 30),
    slowSubscriberMs: integer(source, "GAVEL_SLOW_SUBSCRIBER_MS", Defaults.slowSubscriberMs, 0, 3_600_000),
    closeIntervalMs: integer(source, "GAVEL_CLOSE_INTERVAL_MS", Defaults.closeIntervalMs, 10, 60_000),
    workers,
    auth: jwtAuth(source),
    tls: tlsPem(source),
    bidRate,
    bidBurst,
    maxConnectionsPerIp: integer(source, "GAVEL_MAX_CONN_PER_IP", Defaults.maxConnectionsPerIp, 0, 1_000_000),
    idleMs: integer(source, "GAVEL_IDLE_MS", Defaults.idleMs, 0, MAX_TIMEOUT_MS),
    frameTimeoutMs: integer(source, "GAVEL_FRAME_TIMEOUT_MS", Defaults.frameTimeoutMs, 0, MAX_TIMEOUT_MS),
    redisTimeoutMs: integer(source, "GAVEL_REDIS_TIMEOUT_MS", Defaults.redisTimeoutMs, MIN_REDIS_TIMEOUT_MS, MAX_TIMEOUT_MS),
    breakerFailures: integer(source, "GAVEL_BREAKER_FAILURES", Defaults.breakerFailures, 0, MAX_BREAKER_FAILURES),
    breakerCooldownMs: integer(source, "GAVEL_BREAKER_COOLDOWN_MS", Defaults.breakerCooldownMs, MIN_BREAKER_COOLDOWN_MS, MAX_TIMEOUT_MS),
  };
}

const PEM_START = "-----BEGIN ";

/** A setting that holds a file path, read now so a bad path stops start-up. */
function readSettingFile(name: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(name, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** GAVEL_AUTH, GAVEL_JWT_SECRET, GAVEL_JWT_PUBLIC_KEY: exactly one key when auth is on, none when off. */
function jwtAuth(source: Source): JwtAuth | null {
  const mode = source.GAVEL_AUTH || "off";
  const secret = source.GAVEL_JWT_SECRET ?? "";
  const publicKey = source.GAVEL_JWT_PUBLIC_KEY ?? "";
  if (mode !== "off" && mode !== "jwt") throw new ConfigError("GAVEL_AUTH", `must be jwt or off, got "${mode}"`);
  if (mode === "off") {
    // A key without GAVEL_AUTH=jwt is a deployment that believes it authenticates and does not.
    const set = secret !== "" ? "GAVEL_JWT_SECRET" : publicKey !== "" ? "GAVEL_JWT_PUBLIC_KEY" : null;
    if (set !== null) throw new ConfigError("GAVEL_AUTH", `${set} is set but GAVEL_AUTH is not jwt (authentication would be off)`);
    return null;
  }
  if (secret !== "" && publicKey !== "") {
    throw new ConfigError("GAVEL_JWT_PUBLIC_KEY", "set GAVEL_JWT_SECRET (HS256) or GAVEL_JWT_PUBLIC_KEY (EdDSA, ES256), not both");
  }
  if (secret !== "") {
    const bytes = Buffer.from(secret, "utf8");
    if (bytes.length < MIN_JWT_SECRET_BYTES) {
      throw new ConfigError("GAVEL_JWT_SECRET", `must be at least ${MIN_JWT_SECRET_BYTES} bytes for HS256, got ${bytes.length}`);
    }
    return { algorithm: "HS256", key: createSecretKey(bytes) };
  }
  if (publicKey === "") throw new ConfigError("GAVEL_JWT_SECRET", "GAVEL_AUTH=jwt needs GAVEL_JWT_SECRET or GAVEL_JWT_PUBLIC_KEY");

  // The PEM itself (newlines may come escaped as \n from an env file), or a path to it.
  const pem = publicKey.trimStart().startsWith(PEM_START)
    ? publicKey.replaceAll("\\n", "\n")
    : readSettingFile("GAVEL_JWT_PUBLIC_KEY", publicKey);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new ConfigError("GAVEL_JWT_PUBLIC_KEY", "is not a PEM public key");
  }
  if (key.asymmetricKeyType === "ed25519") return { algorithm: "EdDSA", key };
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return { algorithm: "ES256", key };
  const kind = key.asymmetricKeyType === "ec" ? `ec ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
  throw new ConfigError("GAVEL_JWT_PUBLIC_KEY", `must be an Ed25519 (EdDSA) or P-256 (ES256) key, got ${kind}`);
}

/** GAVEL_TLS_CERT and GAVEL_TLS_KEY: both or neither, readable, PEM, and a matching pair. */
function tlsPem(source: Source): TlsPem | null {
  const certPath = source.GAVEL_TLS_CERT ?? "";
  const keyPath = source.GAVEL_TLS_KEY ?? "";
  if (certPath === "" && keyPath === "") return null;
  if (keyPath === "") throw new ConfigError("GAVEL_TLS_KEY", "required when GAVEL_TLS_CERT is set");
  if (certPath === "") throw new ConfigError("GAVEL_TLS_CERT", "required when GAVEL_TLS_KEY is set");
  const cert = readSettingFile("GAVEL_TLS_CERT", certPath);
  const key = readSettingFile("GAVEL_TLS_KEY", keyPath);
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new ConfigError("GAVEL_TLS_CERT", `${certPath} holds no PEM certificate`);
  }
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new ConfigError("GAVEL_TLS_KEY", `${keyPath} holds no PEM private key`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError("GAVEL_TLS_KEY", `${keyPath} is not the key of the certificate in ${certPath}`);
  }
  return { cert, key };
}
