// Entry point: `bun run start`. Reads the settings, starts the server, stops it on a signal.

import { ConfigError, loadConfig, unknownSettingWarnings } from "./config.ts";
import { helpText } from "./config/help.ts";
import packageJson from "../package.json" with { type: "json" };
import { redact } from "./log/redact.ts";
import { startServer } from "./server.ts";
import { superviseWorkers, WORKER_ENV } from "./supervisor.ts";
import { onStopSignals } from "./stop-signals.ts";

const EXIT_BAD_CONFIG = 2;
const EXIT_START_FAILED = 1;
/** Stopped, but the store was failing (its file deleted, the disk full): the operator must look. */
const EXIT_STORE_FAULT = 1;

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText(packageJson.version));
  process.exit(0);
}
if (argv.includes("--version")) {
  console.log(`gavel ${packageJson.version}`);
  process.exit(0);
}

let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`gavel: bad setting ${error.message}`);
    process.exit(EXIT_BAD_CONFIG);
  }
  throw error;
}
for (const warning of unknownSettingWarnings(process.env)) console.warn(`gavel: warning: ${warning}`);

if (config.workers > 1 && process.env[WORKER_ENV] === undefined) {
  process.exit(await superviseWorkers(config, process.argv.slice(2)));
}

let server;
try {
  server = await startServer(config);
} catch (error) {
  console.error(`gavel: cannot start: ${(error as Error).message}`);
  process.exit(EXIT_START_FAILED);
}

const shutdown = async (signal: string) => {
  console.log(`gavel: ${signal}: answering what was received, then stopping`);
  // Named in the log whatever happens next: a store that was down when the stop began.
  const faultAtSignal = server.store.unavailableReason();
  if (faultAtSignal !== null) console.warn(`gavel: warning: the store was failing when the stop began: ${faultAtSignal}`);
  try {
    await server.stop();
  } catch (error) {
    console.error(`gavel: error: stopping failed: ${(error as Error).message}`);
    process.exit(EXIT_STORE_FAULT);
  }
  const fault = server.store.unavailableReason();
  if (fault !== null) {
    console.error(`gavel: error: stopped with the store failing: ${fault}`);
    process.exit(EXIT_STORE_FAULT);
  }
  console.log("gavel: stopped");
  process.exit(0);
};
// Installed before the listening line: a process manager may signal as soon as it sees it.
// A repeat within a second is the same request; a later one stops at once (src/stop-signals.ts).
onStopSignals({
  stop: (signal) => void shutdown(signal),
  stopNow: (signal) => {
    console.log(`gavel: ${signal} again: stopping now, dropping the connections still open`);
    void server.stopNow();
  },
});

const where = config.store === "sqlite" ? ` (${config.dbPath})` : config.store === "redis" ? ` (${redact(config.redisUrl)})` : "";
const [bids, http] = config.tls ? ["TLS", "https"] : ["TCP", "http"];
const auth = config.auth ? `; AUTH required (${config.auth.algorithm})` : "";
console.log(
  `gavel: listening on ${config.host}:${server.port} (bids, ${bids}) and ${http}://${config.host}:${server.httpPort} (admin); store ${config.store}${where}${auth}`,
);
