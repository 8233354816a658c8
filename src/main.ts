// Entry point: `bun run start`. Reads the settings, starts the server, stops it on a signal.

import { ConfigError, loadConfig, unknownSettingWarnings } from "./config.ts";
import { helpText } from "./config/help.ts";
import packageJson from "../package.json" with { type: "json" };
import { redact } from "./log/redact.ts";
import { startServer } from "./server.ts";
import { superviseWorkers, WORKER_ENV } from "./supervisor.ts";
import { onStopSignals } from "./stop-signals.ts";
import { createLogger, flushLogsSync, LogFormats, type LogFormat, type LogLevel } from "./log/logger.ts";
import { sinkFor } from "./log/log-sink.ts";
import { settingsForLog } from "./log/settings-fields.ts";

const EXIT_BAD_CONFIG = 2;
const EXIT_START_FAILED = 1;
/** Stopped, but the store was failing (its file deleted, the disk full): the operator must look. */
const EXIT_STORE_FAULT = 1;

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(helpText(packageJson.version));
  exitAfterLogs(0);
}
if (argv.includes("--version")) {
  console.log(`gavel ${packageJson.version}`);
  exitAfterLogs(0);
}

let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    // The settings did not load: log as GAVEL_LOG_FORMAT says if it is valid, else as the terminal suits.
    const format = LogFormats.find((f) => f === process.env.GAVEL_LOG_FORMAT);
    createLogger({ level: "info", format }).fatal({ setting: error.setting }, `gavel: bad setting ${error.message}`);
    exitAfterLogs(EXIT_BAD_CONFIG);
  }
  throw error;
}
const logger = createLogger({ level: config.logLevel as LogLevel, format: config.logFormat === "" ? undefined : (config.logFormat as LogFormat) });
const log = sinkFor(logger, "info");
for (const warning of unknownSettingWarnings(process.env)) logger.warn(`gavel: warning: ${warning}`);

if (config.workers > 1 && process.env[WORKER_ENV] === undefined) {
  exitAfterLogs(await superviseWorkers(config, process.argv.slice(2), log));
}

let server;
try {
  server = await startServer(config, undefined, sinkFor(logger, "warn"));
} catch (error) {
  logger.fatal(`gavel: cannot start: ${redact((error as Error).message)}`);
  exitAfterLogs(EXIT_START_FAILED);
}

const shutdown = async (signal: string) => {
  log(`gavel: ${signal}: answering what was received, then stopping`, { event: "shutdown", step: "signal", signal });
  // Named in the log whatever happens next: a store that was down when the stop began.
  const faultAtSignal = server.store.unavailableReason();
  if (faultAtSignal !== null) log(`gavel: warning: the store was failing when the stop began: ${faultAtSignal}`);
  try {
    await server.stop();
  } catch (error) {
    log(`gavel: error: stopping failed: ${(error as Error).message}`);
    exitAfterLogs(EXIT_STORE_FAULT);
  }
  const fault = server.store.unavailableReason();
  if (fault !== null) {
    log(`gavel: error: stopped with the store failing: ${fault}`, { event: "shutdown", step: "stopped", exit: EXIT_STORE_FAULT });
    exitAfterLogs(EXIT_STORE_FAULT);
  }
  log("gavel: stopped", { event: "shutdown", step: "stopped", exit: 0 });
  exitAfterLogs(0);
};
// Installed before the listening line: a process manager may signal as soon as it sees it.
// A repeat within a second is the same request; a later one stops at once (src/stop-signals.ts).
onStopSignals({
  stop: (signal) => void shutdown(signal),
  stopNow: (signal) => {
    log(`gavel: ${signal} again: stopping now, dropping the connections still open`, { event: "shutdown", step: "stop_now", signal });
    void server.stopNow();
  },
});

const where = config.store === "sqlite" ? ` (${config.dbPath})` : config.store === "redis" ? ` (${redact(config.redisUrl)})` : "";
const [bids, http] = config.tls ? ["TLS", "https"] : ["TCP", "http"];
const auth = config.auth ? `; AUTH required (${config.auth.algorithm})` : "";
// The HTTP port comes last: readers of this line (tests, scripts) take the last URL as it.
const listeners =
  server.adminPort === null
    ? `${http}://${config.host}:${server.httpPort} (admin)`
    : `${http}://${config.adminHost}:${server.adminPort} (admin) and ${http}://${config.host}:${server.httpPort} (live page, /ws, health)`;
logger.info(
  {
    event: "started",
    version: packageJson.version,
    port: server.port,
    http_port: server.httpPort,
    admin_port: server.adminPort,
    settings: settingsForLog(config),
  },
  `gavel: listening on ${config.host}:${server.port} (bids, ${bids}) and ${listeners}; store ${config.store}${where}${auth}`,
);

/** Exits once every log line is written (they are batched per event-loop turn). */
function exitAfterLogs(code: number): never {
  flushLogsSync();
  process.exit(code);
}
