// Structured logs (pino): one JSON object per line on stdout (`level`, `time`, `msg`, fields),
// or a readable line when stdout is a terminal. Written synchronously: the server logs a few
// lines per event (start, stop, store lost, an auction closed), never per bid, and a line must
// not be lost when the process exits right after it.

import { writeSync } from "node:fs";
import pino, { type Logger as PinoLogger } from "pino";
import pretty from "pino-pretty";
import { withoutSecrets } from "./secret-fields.ts";

export const LogLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LogLevels)[number];
export const LogFormats = ["json", "pretty"] as const;
export type LogFormat = (typeof LogFormats)[number];

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
    formatters: {
      level: (label: string) => ({ level: label }),
      // Secret fields never reach a line (secret-fields.ts).
      log: withoutSecrets,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid },
  };
  const fd = typeof options.destination === "number" ? options.destination : 1;
  if (format === "pretty") {
    const stream = pretty({ colorize: process.stdout.isTTY === true, sync: true, destination: fd, ignore: "pid,hostname" });
    return pino(base, stream);
  }
  if (options.destination !== undefined && typeof options.destination !== "number") return pino(base, options.destination);
  const destination = new TickBatchedDestination(fd);
  buffered.add(destination);
  ensureFlushOnExit();
  return pino(base, destination);
}

/**
 * Lines logged in one turn of the event loop are written together, synchronously, in one system
 * call at the end of that turn (a microtask), not one call each: a mass close logs a line per
 * auction, and 50,000 writes one by one held up the closer and every PING by a second. Order is
 * kept (a line is out before any socket write queued after it in the same turn), and nothing is
 * lost at exit: what waits is written by the process's 'exit' handler.
 */
class TickBatchedDestination {
  private pending: string[] = [];

  constructor(private readonly fd: number) {}

  write(line: string): boolean {
    if (this.pending.length === 0) queueMicrotask(() => this.flushSync());
    this.pending.push(line);
    return true;
  }

  flushSync(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    writeAllSync(this.fd, text);
  }
}

/** writeSync until every byte is out (a pipe may take part of it). */
function writeAllSync(fd: number, text: string): void {
  let bytes = Buffer.from(text);
  while (bytes.length > 0) {
    try {
      const written = writeSync(fd, bytes);
      bytes = bytes.subarray(written);
    } catch (error) {
      // A full non-blocking pipe: try again; anything else (the reader is gone): drop the lines.
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
    }
  }
}

/** The batched destinations of this process, flushed when it exits. */
const buffered = new Set<{ flushSync(): void }>();
let flushOnExit = false;

/** Writes every waiting line now (at exit: the process 'exit' handler calls it too). */
export function flushLogsSync(): void {
  for (const destination of buffered) destination.flushSync();
}

function ensureFlushOnExit(): void {
  if (flushOnExit) return;
  flushOnExit = true;
  process.on("exit", flushLogsSync);
}
