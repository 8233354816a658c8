// GAVEL_WORKERS > 1: this process starts that many server processes on the same ports
// (SO_REUSEPORT, so the kernel spreads connections over them), forwards SIGTERM and SIGINT
// to them (a repeat within a second is ignored, see stop-signals.ts), and exits when they have
// all stopped. A worker that dies on its own takes the
// others down with it (exit 1): a process manager restarts the whole, in one known state.

import type { Subprocess } from "bun";
import { WORKER_INDEX_ENV, type Config } from "./config.ts";
import { onStopSignals } from "./stop-signals.ts";
import type { LogSink } from "./log/log-sink.ts";

/** Set in a worker's environment, so it serves instead of supervising. */
export const WORKER_ENV = WORKER_INDEX_ENV;

export async function superviseWorkers(config: Config, argv: readonly string[], log: LogSink): Promise<number> {
  const main = `${import.meta.dir}/main.ts`;
  let stopping = false;
  const workers: Subprocess[] = [];
  for (let index = 0; index < config.workers; index++) {
    workers.push(
      Bun.spawn([process.execPath, "run", main, ...argv], {
        env: { ...process.env, [WORKER_ENV]: String(index) },
        stdio: ["ignore", "inherit", "inherit"],
      }),
    );
  }
  log(`gavel: supervising ${config.workers} workers on ${config.host}:${config.port} and :${config.httpPort}`, { event: "supervising", workers: config.workers });

  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of workers) worker.kill(signal);
  };
  // Workers get a group signal directly as well as forwarded; they take the two for one. A
  // later repeat is forwarded too: the workers then stop at once (src/stop-signals.ts).
  onStopSignals({ stop: stopAll, stopNow: stopAll });

  const codes = await Promise.all(
    workers.map(async (worker, index) => {
      const code = await worker.exited;
      if (!stopping) {
        log(`gavel: error: worker ${index} exited on its own (code ${code}); stopping the others`, { event: "worker_exited", worker: index, code });
        stopAll("SIGTERM");
        return 1;
      }
      return code;
    }),
  );
  return codes.every((code) => code === 0) ? 0 : 1;
}
