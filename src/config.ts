// The server's settings: one typed object, parsed and validated once at start-up, from the one
// settings table (src/config/settings.ts). Each setting is an environment variable with a
// matching CLI flag (GAVEL_HTTP_PORT -> --http-port, REDIS_URL -> --redis-url); a flag wins.

import { createPrivateKey, createPublicKey, createSecretKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

import { closest } from "./config/closest.ts";
import { otelTracing, type OtelTracing } from "./config/otel.ts";
import { parseDuration } from "./config/duration.ts";
import { DEFAULT_BURST_SECONDS, flagOf, SETTING_LIST, SETTINGS, SettingKind, type Setting, type SettingName } from "./config/settings.ts";

export { DEFAULT_MAX_CONNECTIONS, Defaults } from "./config/settings.ts";

export type StoreKind = "memory" | "sqlite" | "redis";

/** A setting's value type, from its kind in the table. */
type ValueOf<S> = S extends { kind: typeof SettingKind.INTEGER | typeof SettingKind.DECIMAL } ? number : string;

/** The settings that are used as the table gives them (the rest become typed objects below). */
type PlainSettings = {
  [K in Exclude<SettingName, "store" | "auth" | "jwtSecret" | "jwtPublicKey" | "tlsCert" | "tlsKey">]: ValueOf<(typeof SETTINGS)[K]>;
};

/** The server's settings, parsed and checked; see src/config/settings.ts for each one's meaning. */
export interface Config extends PlainSettings {
  store: StoreKind;
  /** GAVEL_AUTH=jwt: how AUTH tokens are verified (src/auth/); null when authentication is off. */
  auth: JwtAuth | null;
  /** GAVEL_TLS_CERT / GAVEL_TLS_KEY, read at start-up; null for plain TCP and HTTP. */
  tls: TlsPem | null;
  /** OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and friends (src/config/otel.ts); null when tracing is off. */
  tracing: OtelTracing | null;
  /** GAVEL_RETENTION in ms: closed auctions older than this are deleted; 0 keeps everything. */
  retentionMs: number;
}

/** A retention shorter than this would delete auctions while their last subscribers replay them. */
const MIN_RETENTION_MS = 60_000;

/** GAVEL_RETENTION: empty keeps everything, else a duration of at least MIN_RETENTION_MS. */
function retentionMs(text: string): number {
  if (text.trim() === "") return 0;
  const ms = parseDuration(text);
  if (ms === null) throw new ConfigError("GAVEL_RETENTION", `expected a duration such as 30d, 12h, 90m or 600s, got "${text}"`);
  if (ms < MIN_RETENTION_MS) throw new ConfigError("GAVEL_RETENTION", `must be at least 1m, got "${text}"`);
  return ms;
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

import { ConfigError } from "./config/errors.ts";

export { ConfigError };

/**
 * Variables with the GAVEL_ prefix that are not settings: set by Gavel itself (the supervisor
 * marks its workers), so they are not reported as unknown.
 */
export const WORKER_INDEX_ENV = "GAVEL_WORKER_INDEX";
const INTERNAL_VARIABLES: ReadonlySet<string> = new Set([WORKER_INDEX_ENV]);
const SETTING_PREFIX = "GAVEL_";

type Source = Record<string, string | undefined>;

const BY_ENV = new Map<string, Setting & { name: SettingName }>(SETTING_LIST.map((s) => [s.env, s]));
const BY_FLAG = new Map<string, string>(SETTING_LIST.map((s) => [flagOf(s.env), s.env]));
const KNOWN_VARIABLES = SETTING_LIST.map((s) => s.env);
const KNOWN_FLAGS = [...BY_FLAG.keys()];

function suggestion(name: string, known: readonly string[]): string {
  const near = closest(name, known);
  return near === null ? "" : ` (did you mean ${near}?)`;
}

/**
 * Maps `--http-port 7401` / `--http-port=7401` to { GAVEL_HTTP_PORT: "7401" }. An unknown flag
 * stops start-up (a misspelt port or path must not go unnoticed), naming the closest one.
 */
export function flagsToSettings(argv: readonly string[]): Source {
  const settings: Source = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(arg, "unexpected argument (settings are --name value)");
    const eq = arg.indexOf("=");
    const flag = arg.slice(0, eq < 0 ? undefined : eq);
    const env = BY_FLAG.get(flag);
    if (env === undefined) throw new ConfigError(flag, `unknown setting${suggestion(flag, KNOWN_FLAGS)}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new ConfigError(flag, "missing value");
    }
    settings[env] = value;
  }
  return settings;
}

/**
 * GAVEL_* variables that are no setting (a typo such as GAVEL_HTTPPORT would otherwise be
 * ignored without a word): one warning each, naming the closest setting.
 */
export function unknownSettingWarnings(env: Source): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith(SETTING_PREFIX) || BY_ENV.has(name) || INTERNAL_VARIABLES.has(name)) continue;
    warnings.push(`unknown setting ${name} is ignored${suggestion(name, KNOWN_VARIABLES)}`);
  }
  return warnings;
}

/** One setting's value from its text, by the table's kind and bounds; unset gives the default. */
function parseSetting(setting: Setting, raw: string | undefined): string | number {
  const text = raw?.trim() ?? "";
  switch (setting.kind) {
    case SettingKind.TEXT:
      return raw === undefined || raw === "" ? setting.default : raw;
    case SettingKind.CHOICE:
      if (text === "") return setting.default;
      if (!setting.choices.includes(text)) throw new ConfigError(setting.env, `must be ${setting.choices.join(", ")}; got "${raw}"`);
      return text;
    case SettingKind.INTEGER: {
      if (text === "") return setting.default;
      if (!/^\d+$/.test(text)) throw new ConfigError(setting.env, `expected a whole number, got "${raw}"`);
      const value = Number(text);
      if (value < setting.min || value > setting.max) {
        throw new ConfigError(setting.env, `must be between ${setting.min} and ${setting.max}, got ${value}`);
      }
      return value;
    }
    case SettingKind.DECIMAL: {
      if (text === "") return setting.default;
      if (!/^\d+(\.\d+)?$|^\.\d+$/.test(text)) throw new ConfigError(setting.env, `expected a number, got "${raw}"`);
      const value = Number(text);
      if (value < setting.min || value > setting.max) {
        throw new ConfigError(setting.env, `must be between ${setting.min} and ${setting.max}, got ${value}`);
      }
      return value;
    }
  }
}

/** Reads the settings from the environment and CLI flags; throws ConfigError on a bad value. */
export function loadConfig(env: Source, argv: readonly string[] = []): Config {
  const source: Source = { ...env, ...flagsToSettings(argv) };
  const values = {} as Record<SettingName, string | number>;
  for (const setting of SETTING_LIST) values[setting.name] = parseSetting(setting, source[setting.env]);
  const plain = values as unknown as PlainSettings & { store: string };

  // Rules that tie settings together.
  const redisUrl = plain.redisUrl;
  const store = (plain.store || (redisUrl !== "" ? "redis" : "sqlite")) as StoreKind;
  if (store === "redis") {
    if (redisUrl === "") throw new ConfigError("REDIS_URL", "required when GAVEL_STORE is redis");
    if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError("REDIS_URL", "must start with redis:// or rediss:// (the value is not shown: it may hold a password)");
  }
  const { queueCapacity, batchSize, port, httpPort, workers, bidRate } = plain;
  if ((queueCapacity & (queueCapacity - 1)) !== 0) throw new ConfigError("GAVEL_QUEUE", `must be a power of two, got ${queueCapacity}`);
  if (batchSize > queueCapacity) throw new ConfigError("GAVEL_BATCH", `must not exceed GAVEL_QUEUE (${queueCapacity})`);
  if (port !== 0 && port === httpPort) throw new ConfigError("GAVEL_HTTP_PORT", `must differ from GAVEL_PORT (${port})`);
  const { adminPort } = plain;
  if (adminPort > 0 && (adminPort === port || adminPort === httpPort)) {
    throw new ConfigError("GAVEL_ADMIN_PORT", `must differ from GAVEL_PORT (${port}) and GAVEL_HTTP_PORT (${httpPort})`);
  }
  if (workers > 1 && store !== "redis") {
    throw new ConfigError("GAVEL_WORKERS", `more than 1 needs GAVEL_STORE=redis: each worker would hold its own ${store} auctions`);
  }
  if (workers > 1 && (port === 0 || httpPort === 0 || adminPort === 0)) {
    throw new ConfigError("GAVEL_WORKERS", "more than 1 needs fixed ports (GAVEL_PORT, GAVEL_HTTP_PORT), not 0");
  }
  const burstSet = (source[SETTINGS.bidBurst.env]?.trim() ?? "") !== "";
  const bidBurst = burstSet ? plain.bidBurst : Math.max(1, bidRate * DEFAULT_BURST_SECONDS);
  if (bidRate > 0 && bidBurst === 0) throw new ConfigError("GAVEL_BID_BURST", "must be at least 1 while GAVEL_BID_RATE is set");
  checkWebhook(plain.webhookUrl, plain.webhookSecret);

  const { store: _store, auth: _auth, jwtSecret: _secret, jwtPublicKey: _publicKey, tlsCert: _cert, tlsKey: _key, ...rest } = values as Record<string, unknown>;
  return {
    ...(rest as PlainSettings),
    store,
    bidBurst,
    auth: jwtAuth(source),
    tls: tlsPem(source),
    tracing: otelTracing(source),
    retentionMs: retentionMs(plain.retention),
  };
}

/** An HMAC key shorter than this is guessable; Stripe's and GitHub's are longer. */
const MIN_WEBHOOK_SECRET_BYTES = 16;

/** GAVEL_WEBHOOK_URL and GAVEL_WEBHOOK_SECRET: a URL needs a secret, a secret alone is a mistake. */
function checkWebhook(url: string, secret: string): void {
  if (url === "") {
    if (secret !== "") throw new ConfigError("GAVEL_WEBHOOK_SECRET", "is set but GAVEL_WEBHOOK_URL is not (no webhook would be sent)");
    return;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError("GAVEL_WEBHOOK_URL", "is not a URL (the value is not shown: it may hold a password)");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError("GAVEL_WEBHOOK_URL", `must start with http:// or https://, got ${parsed.protocol}//`);
  if (secret === "") throw new ConfigError("GAVEL_WEBHOOK_SECRET", "required when GAVEL_WEBHOOK_URL is set (receivers verify the signature with it)");
  const bytes = Buffer.byteLength(secret, "utf8");
  if (bytes < MIN_WEBHOOK_SECRET_BYTES) throw new ConfigError("GAVEL_WEBHOOK_SECRET", `must be at least ${MIN_WEBHOOK_SECRET_BYTES} bytes, got ${bytes}`);
}

/** RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits). */
const MIN_JWT_SECRET_BYTES = 32;
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
