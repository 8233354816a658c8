// Durations as operators write them: a whole number and a unit, `90s`, `30m`, `12h`, `30d`.

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(s|m|h|d)$/;

/** The duration in ms, or null when `text` is not one (the caller names the setting). */
export function parseDuration(text: string): number | null {
  const match = DURATION.exec(text.trim());
  if (match === null) return null;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}
