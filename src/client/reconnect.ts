// Reconnecting with exponential backoff: wait, try, double the wait up to a cap, and give up
// after a number of failures in a row (never, by default). Knows nothing of sockets: the
// engine passes the attempt.

/** Reconnect delays start here and double per failed attempt, up to the maximum. */
export const DEFAULT_RECONNECT_DELAY_MS = 100;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 5_000;

export interface ReconnectOptions {
  /** Delay before the first attempt; doubles per failure. Default {@link DEFAULT_RECONNECT_DELAY_MS}. */
  delayMs?: number;
  /** Cap on the delay. Default {@link DEFAULT_MAX_RECONNECT_DELAY_MS}. */
  maxDelayMs?: number;
  /** Failed attempts in a row before giving up (`closed` then resolves). Default: never give up. */
  maxAttempts?: number;
}

export type ReconnectPolicy = Required<ReconnectOptions>;

/** The policy for a client's `reconnect` option, or null when it does not reconnect. */
export function reconnectPolicy(option: boolean | ReconnectOptions | undefined): ReconnectPolicy | null {
  const reconnect = option === true ? {} : option || null;
  if (reconnect === null) return null;
  return {
    delayMs: reconnect.delayMs ?? DEFAULT_RECONNECT_DELAY_MS,
    maxDelayMs: reconnect.maxDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS,
    maxAttempts: reconnect.maxAttempts ?? Number.POSITIVE_INFINITY,
  };
}

/** The outcome of a reconnect run. */
export type ReconnectOutcome = { kind: "connected" } | { kind: "cancelled" } | { kind: "gave-up"; lastError: unknown };

/** One run of attempts at a time; `cancel` (the client closed) ends the wait at once. */
export class Reconnector {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | undefined;
  private cancelled = false;

  constructor(private readonly policy: ReconnectPolicy) {}

  async run(attempt: () => Promise<void>, firstError: unknown): Promise<ReconnectOutcome> {
    const { delayMs, maxDelayMs, maxAttempts } = this.policy;
    let delay = delayMs;
    let lastError = firstError;
    for (let n = 1; n <= maxAttempts; n++) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, delay);
      });
      this.timer = undefined;
      this.wake = undefined;
      if (this.cancelled) return { kind: "cancelled" };
      try {
        await attempt();
        return { kind: "connected" };
      } catch (error) {
        lastError = error;
      }
      if (this.cancelled) return { kind: "cancelled" };
      delay = Math.min(delay * 2, maxDelayMs);
    }
    return { kind: "gave-up", lastError };
  }

  cancel(): void {
    this.cancelled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wake?.();
  }
}
