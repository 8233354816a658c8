// What one log line costs (mitata): the line a closed auction logs, through the server's own
// logger and sink, written to /dev/null; beside it the same line through pino with the wildcard
// redact paths Gavel used before (`*.password`, ...), which cost more than the rest of the
// line under Bun. A mass close logs one line per auction. Run: bun run bench/log-line.bench.ts

import { openSync } from "node:fs";
import { bench, group, run, summary } from "mitata";
import pino from "pino";
import { createLogger } from "../src/log/logger.ts";
import { sinkFor } from "../src/log/log-sink.ts";
import { SECRET_CENSOR, SECRET_FIELDS } from "../src/log/secret-fields.ts";

const devNull = openSync("/dev/null", "w");
const log = sinkFor(createLogger({ level: "info", format: "json", destination: devNull }), "info");
const secrets = [...SECRET_FIELDS];
const wildcard = pino(
  {
    level: "info",
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    base: { pid: process.pid },
    redact: { paths: [...secrets, ...secrets.map((f) => `*.${f}`)], censor: SECRET_CENSOR },
  },
  pino.destination({ dest: devNull, sync: true }),
);

let auction = 0;
group("a closed auction's log line", () => {
  summary(() => {
    bench("gavel's logger (secret fields censored by Gavel)", () => {
      auction++;
      log(`gavel: auction ${auction} closed, sold`, { level: "info", event: "auction_closed", auction, winner: 42, amount: 1500, result: "sold" });
    });
    bench("pino with wildcard redact paths (before)", () => {
      auction++;
      wildcard.info({ event: "auction_closed", auction, winner: 42, amount: 1500, result: "sold" }, `gavel: auction ${auction} closed, sold`);
    });
  });
});

await run();
