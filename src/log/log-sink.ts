// The seam between the parts of the server that report something (stores, the circuit breaker,
// the closer, the admin API) and the structured logger: a function of a readable message and,
// optionally, fields. The message stays a sentence a person reads ("redis: connection lost,
// reconnecting"); the fields carry the data a collector filters on.

import { redact } from "./redact.ts";
import type { Logger, LogLevel } from "./logger.ts";

/** Data logged beside a message; `level` picks the line's level (else it is read off the message). */
export type LogFields = Record<string, unknown> & { level?: Exclude<LogLevel, "silent"> };

export type LogSink = (message: string, fields?: LogFields) => void;

/** Gavel's messages say their own severity: "gavel: error: ..." and "...: warning: ...". */
const ERROR_MARK = /\berror:/;
const WARNING_MARK = /\bwarning:/;

/**
 * A sink writing to `logger`. The level is `fields.level` when given, else "error" for a message
 * holding "error:", "warn" for one holding "warning:", else `defaultLevel`. Every message passes
 * redact() first: a store's error text may hold a URL with its password.
 * @example
 * const log = sinkFor(logger, "warn");
 * log("redis: connection restored", { level: "info", event: "store_up" });
 */
export function sinkFor(logger: Logger, defaultLevel: Exclude<LogLevel, "silent">): LogSink {
  return (message, fields) => {
    const level = fields?.level ?? (ERROR_MARK.test(message) ? "error" : WARNING_MARK.test(message) ? "warn" : defaultLevel);
    if (fields === undefined) {
      logger[level](redact(message));
      return;
    }
    const { level: _level, ...data } = fields;
    logger[level](data, redact(message));
  };
}
