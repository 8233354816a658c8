// Money and time as the live page shows them. Pure functions: no DOM, unit-tested in
// test/web/format.test.ts.

/** Minor units (cents) per major unit. */
export const MINOR_PER_UNIT = 100;
const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
const SECONDS_PER_DAY = 86_400;
/** Digits after the decimal point in a typed amount. */
const MINOR_DIGITS = 2;

/** 150050 -> "1,500.50". Integer arithmetic, so large amounts stay exact. */
export function formatMoney(minor: number): string {
  const whole = Math.floor(minor / MINOR_PER_UNIT);
  const cents = minor - whole * MINOR_PER_UNIT;
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${grouped}.${String(cents).padStart(MINOR_DIGITS, "0")}`;
}

/** The amount in an input box: no grouping, so it parses back. 150050 -> "1500.50". */
export function formatMoneyInput(minor: number): string {
  return formatMoney(minor).replaceAll(",", "");
}

/**
 * "1,500.5" -> 150050; null when it is not a positive amount with at most two decimals or is
 * beyond exact integers.
 */
export function parseMoney(text: string): number | null {
  const match = /^\s*(\d[\d,]*)?(?:\.(\d{0,2}))?\s*$/.exec(text);
  if (match === null || (match[1] === undefined && (match[2] ?? "") === "")) return null;
  const whole = (match[1] ?? "0").replaceAll(",", "");
  const cents = (match[2] ?? "").padEnd(MINOR_DIGITS, "0");
  const minor = Number(whole) * MINOR_PER_UNIT + Number(cents);
  return Number.isSafeInteger(minor) && minor > 0 ? minor : null;
}

/** Time left as "2d 03h", "1:02:03", "02:03"; "0:00" once it has passed. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / MS_PER_SECOND));
  const days = Math.floor(total / SECONDS_PER_DAY);
  const hours = Math.floor((total % SECONDS_PER_DAY) / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const seconds = total % SECONDS_PER_MINUTE;
  const two = (n: number) => String(n).padStart(2, "0");
  if (days > 0) return `${days}d ${two(hours)}h`;
  if (hours > 0) return `${hours}:${two(minutes)}:${two(seconds)}`;
  return `${two(minutes)}:${two(seconds)}`;
}

/** A bid's time of day, "14:03:07", in the viewer's time zone. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
