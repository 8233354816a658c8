// Load generator: `bun run bench:load -- --help`. See bench/load/ for the pieces and
// docs/performance.md for what it measures. Exits 1 when any request went unanswered or was
// answered twice, 2 on a bad flag.

import { parseArgs, USAGE } from "./load/args.ts";
import { renderHtml } from "./load/html.ts";
import { LoadOptionsError } from "./load/options.ts";
import { CHILD_FLAG, runChild } from "./load/procs.ts";
import { formatReport } from "./load/report.ts";
import { runLoad } from "./load/run.ts";
import { stopAllSpawned } from "./load/spawn.ts";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** 128 + the signal number, as shells report a death by signal. */
const EXIT_SIGNAL_BASE = 128;
const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;

async function main(argv: string[]): Promise<number> {
  let cli;
  try {
    cli = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof LoadOptionsError)) throw error;
    console.error(`bench:load: ${error.message}`);
    return EXIT_USAGE;
  }
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }

  let report;
  try {
    report = await runLoad(cli.options);
  } catch (error) {
    if (error instanceof LoadOptionsError) {
      console.error(`bench:load: ${error.message}`);
      return EXIT_USAGE;
    }
    console.error(`bench:load: ${(error as Error).message}`);
    return EXIT_FAILED;
  }

  if (cli.json) console.log(JSON.stringify(report));
  else console.log(formatReport(report));
  if (cli.html !== null) {
    await Bun.write(cli.html, renderHtml(report));
    if (!cli.json) console.log(`\nhtml report: ${cli.html}`);
  }
  if (!report.ok) {
    // Loudly, on stderr too, so it is seen even with --json piped away.
    console.error(`\nbench:load: RUN FAILED:\n${report.failures.map((f) => `  - ${f}`).join("\n")}`);
    return EXIT_FAILED;
  }
  return 0;
}

if (process.argv.includes(CHILD_FLAG)) {
  runChild();
} else {
  // A spawned server or Redis must not outlive an interrupted run.
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.once(signal, () => {
      stopAllSpawned();
      process.exit(EXIT_SIGNAL_BASE + number);
    });
  }
  process.exit(await main(process.argv.slice(2)));
}
