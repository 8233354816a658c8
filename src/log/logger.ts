// Structured logs (pino): one JSON object per line on stdout (`level`, `time`, `msg`, fields),
// or a readable line when stdout is a terminal. Written synchronously: the server logs a few
// lines per event (start, stop, store lost, an auction closed), never per bid, and a line must
// not be lost when the process exits right after it.

import pino, { type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";

export const LogLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LogLevels)[number];
export const LogFormats = ["json", "pretty"] as const;
export type LogFormat = (typeof LogFormats)[number];

/** Field names whose values never reach a log line, wherever they appear (one level deep). */
const REDACTED_FIELDS = ["password", "token", "secret", "authorization", "adminToken", "jwtSecret", "redisUrl"];

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: LogLevel;
  /** "json" for collectors, "pretty" for a person; unset: pretty on a terminal, else json. */
  format?: LogFormat;
  /** Where lines go; stdout by default. */
  destination?: NodeJS.WritableStream | number;
}

/**
 * @example
 * const log = createLogger({ level: "info" });
 * log.info({ auction: 7, winner: 42, amount: 1500 }, "auction closed");
 */
export function createLogger(options: LoggerOptions): Logger {
  const format = options.format ?? (process.stdout.isTTY ? "pretty" : "json");
  const base = {
    level: options.level,
    // The level by name ("warn"), not pino's number, so a reader needs no table.
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid },
    redact: { paths: [...REDACTED_FIELDS, ...REDACTED_FIELDS.map((f) => `*.${f}`)], censor: "[redacted]" },
  };
  const fd = typeof options.destination === "number" ? options.destination : 1;
  if (format === "pretty") {
    const stream = pretty({ colorize: process.stdout.isTTY === true, sync: true, destination: fd, ignore: "pid,hostname" });
    return pino(base, stream);
  }
  if (options.destination !== undefined && typeof options.destination !== "number") return pino(base, options.destination);
  return pino(base, pino.destination({ dest: fd, sync: true }));
}
