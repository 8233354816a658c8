// SIGTERM and SIGINT as process managers and terminals send them. A signal to a process group
// reaches every process in it: `bun run start` forwards what it gets to the server, which got
// the same signal directly, and the supervisor (GAVEL_WORKERS > 1) forwards to workers that got
// it too; systemd's default stop and a terminal's Ctrl-C both signal the whole group. So one
// request to stop arrives as two signals a millisecond apart, and must not be taken for two.
//
// - The first SIGTERM or SIGINT starts the graceful stop.
// - Another one within REPEAT_WINDOW_MS of it is the same request: ignored.
// - One after that is an operator insisting (Ctrl-C twice): stop at once, still writing what
//   can be written and exiting cleanly.
// - Any later one is ignored: the stop is already bounded.
// Handlers stay installed throughout: a signal with no handler would kill the process mid-stop.

/** The signals that stop Gavel. */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** A stop signal this soon after the first is the same request, delivered twice. */
export const REPEAT_WINDOW_MS = 1_000;

export interface StopSignalHandlers {
  /** The first signal: stop gracefully. */
  stop(signal: StopSignal): void;
  /** A signal after the repeat window: stop at once. */
  stopNow(signal: StopSignal): void;
}

/** Installs the handlers for every stop signal, for the life of the process. */
export function onStopSignals(handlers: StopSignalHandlers): void {
  let firstAt = 0;
  let insisted = false;
  const onSignal = (signal: StopSignal) => {
    const now = Date.now();
    if (firstAt === 0) {
      firstAt = now;
      handlers.stop(signal);
    } else if (!insisted && now - firstAt >= REPEAT_WINDOW_MS) {
      insisted = true;
      handlers.stopNow(signal);
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal));
}
