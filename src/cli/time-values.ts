// Durations ("30s", "10m", "2h", "1d", "250ms") and points in time (ms since the epoch, ISO-8601,
// or "+10m" from now) as the command line writes them; all become milliseconds.

import { UsageError } from "./errors.ts";

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const EPOCH_MS = /^\d+$/;
/** A relative point in time: "+" and a duration. */
const FROM_NOW_PREFIX = "+";
/** Times beyond this are surely a mistake (year 2286); the server has its own bound too. */
const MAX_TIME_MS = 10_000_000_000_000;

/** Parses "30s", "10m", "2h", "1d" or "250ms"; `what` names the flag in the error. */
export function parseDuration(text: string, what: string): number {
  const match = DURATION.exec(text);
  if (match === null) throw new UsageError(`${what} must be a duration such as 30s, 10m, 2h or 1d, not "${text}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  if (!Number.isSafeInteger(ms) || ms > MAX_TIME_MS) throw new UsageError(`${what} is too long: ${text}`);
  return ms;
}

/**
 * Parses a point in time: ms since the Unix epoch ("1767225600000"), ISO-8601
 * ("2026-01-01T00:00:00Z"), or "+" and a duration from `now` ("+10m").
 */
export function parseTime(text: string, what: string, now: number): number {
  if (text.startsWith(FROM_NOW_PREFIX)) return now + parseDuration(text.slice(FROM_NOW_PREFIX.length), what);
  if (EPOCH_MS.test(text)) {
    const ms = Number(text);
    if (ms > MAX_TIME_MS) throw new UsageError(`${what} is too far ahead: ${text} (ms since the epoch)`);
    return ms;
  }
  // Date.parse also takes loose forms ("1 Jan"); ask for ISO-8601's date first.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms) || ms < 0) {
    throw new UsageError(`${what} must be ms since the epoch, an ISO-8601 time (2026-01-01T12:00:00Z) or +DURATION, not "${text}"`);
  }
  return ms;
}
