// How long a failed webhook waits before its next try: exponential from `baseMs`, capped at
// `maxMs`, with "equal jitter" (half the delay fixed, half random), so the retries of many
// events spread out instead of hitting a receiver that comes back all in the same instant, yet
// never come sooner than half the intended delay.

/** The wait before try `attempt + 1` (attempt 0: the first retry). `random` is in [0, 1). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: number = Math.random()): number {
  // 2^30 is past any cap; the bound keeps the power finite for an event retried for weeks.
  const exponential = baseMs * 2 ** Math.min(attempt, 30);
  const delay = Math.min(maxMs, exponential);
  return delay / 2 + (random * delay) / 2;
}
