// Command-line flags of `bun run bench:load -- ...`, mapped onto LoadOptions.

import { LoadDefaults, LoadOptionsError, type LoadOptions } from "./options.ts";

export const USAGE = `bun run bench:load -- [flags]

Drives BIDs at a Gavel server and reports throughput, latency percentiles, replies by status,
CPU, and whether every request was answered exactly once (exit status 1 if not).

target
  --host H              server host (${LoadDefaults.host})
  --port N              bid port (${LoadDefaults.port})
  --http-port N         admin port, to create auctions (${LoadDefaults.httpPort})
  --spawn-server STORE  start \`bun run src/main.ts\` with memory|sqlite|redis (or trivial: bench/trivial-responder.ts) on free ports for the
                        run (temp GAVEL_DB; a throwaway redis-server unless --redis-url), watch
                        its CPU, and stop it at the end
  --redis-url URL       Redis for --spawn-server redis (its CPU is watched when it is local)
  --server-env K=V,...  extra environment for the spawned server (e.g. GAVEL_BATCH=256)
load
  --connections N, -c   connections over all processes (${LoadDefaults.connections})
  --window N, -w        closed loop: bids in flight per connection (${LoadDefaults.window})
  --rate R              open loop instead: R bids/s offered in total, latency measured from
                        each bid's scheduled time (no coordinated omission)
  --tick-ms MS          open loop: bids due in a tick leave together, stamped with the tick (${LoadDefaults.tickMs})
  --duration S          seconds measured after the warm-up (${LoadDefaults.durationS})
  --bids N              send N bids in total instead of running for a duration
  --warmup S            seconds left out of the figures at the start (${LoadDefaults.warmupS})
  --grace S             seconds to wait for the last replies (${LoadDefaults.graceS})
  --auctions A          auctions created for the run, bids spread at random (${LoadDefaults.auctions})
  --auction-base ID     first auction id tried; ids taken by earlier runs are skipped (${LoadDefaults.auctionBase})
  --hot                 every bid on one auction (maximum contention)
  --amounts MODE        rising (with the clock: bids mostly win) | random (mostly lose) (${LoadDefaults.amounts})
  --max-share F         send this share (0..1) of the bids as MAX_BID, the amount as the hidden maximum (${LoadDefaults.maxShare})
  --procs P             spread the connections (and rate) over P load processes (${LoadDefaults.procs})
measure and report
  --server-pid PID      the server's pid: report its CPU
  --pids P1,P2          more pids whose CPU (with their children) is reported
  --json                print one JSON object on stdout instead of the table
  --html FILE           also write a self-contained HTML report with a latency chart
  --no-progress         no live progress line (it only shows on a terminal anyway)
  --help
`;

export interface Cli {
  options: LoadOptions;
  json: boolean;
  html: string | null;
  help: boolean;
}

const ALIASES: Record<string, string> = { "-c": "--connections", "-w": "--window", "-h": "--help" };
const BOOLEAN_FLAGS = new Set(["--hot", "--json", "--help", "--no-progress"]);
const VALUE_FLAGS = new Set([
  "--host", "--port", "--http-port", "--spawn-server", "--redis-url", "--server-env", "--connections", "--window",
  "--rate", "--tick-ms", "--duration", "--bids", "--warmup", "--grace", "--auctions", "--auction-base", "--amounts", "--max-share",
  "--procs", "--server-pid", "--pids", "--html",
]);

function number(flag: string, raw: string): number {
  const value = Number(raw.replaceAll("_", ""));
  if (raw.trim() === "" || !Number.isFinite(value)) throw new LoadOptionsError(`${flag}: expected a number, got "${raw}"`);
  return value;
}

function pidList(flag: string, raw: string): number[] {
  return raw
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => number(flag, s.trim()));
}

/** Parses the flags; throws LoadOptionsError on an unknown flag or a bad value. */
export function parseArgs(argv: readonly string[]): Cli {
  const cli: Cli = { options: {}, json: false, html: null, help: false };
  const o = cli.options;
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    if (arg === "--") continue;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = ALIASES[arg] ?? arg;
    if (!BOOLEAN_FLAGS.has(arg) && !VALUE_FLAGS.has(arg)) throw new LoadOptionsError(`unknown flag ${arg} (see --help)`);
    if (BOOLEAN_FLAGS.has(arg)) {
      if (value !== undefined) throw new LoadOptionsError(`${arg} takes no value`);
    } else {
      value ??= argv[++i];
      if (value === undefined) throw new LoadOptionsError(`${arg}: missing value`);
    }
    const v = value ?? "";
    switch (arg) {
      case "--host": o.host = v; break;
      case "--port": o.port = number(arg, v); break;
      case "--http-port": o.httpPort = number(arg, v); break;
      case "--spawn-server": o.spawnServer = v as LoadOptions["spawnServer"]; break;
      case "--redis-url": o.redisUrl = v; break;
      case "--server-env":
        o.serverEnv = Object.fromEntries(
          v.split(",").filter(Boolean).map((pair) => {
            const at = pair.indexOf("=");
            if (at <= 0) throw new LoadOptionsError(`--server-env: expected KEY=VALUE, got "${pair}"`);
            return [pair.slice(0, at), pair.slice(at + 1)];
          }),
        );
        break;
      case "--connections": o.connections = number(arg, v); break;
      case "--window": o.window = number(arg, v); break;
      case "--rate": o.rate = number(arg, v); break;
      case "--tick-ms": o.tickMs = number(arg, v); break;
      case "--duration": o.durationS = number(arg, v); break;
      case "--bids": o.bids = number(arg, v); break;
      case "--warmup": o.warmupS = number(arg, v); break;
      case "--grace": o.graceS = number(arg, v); break;
      case "--auctions": o.auctions = number(arg, v); break;
      case "--auction-base": o.auctionBase = number(arg, v); break;
      case "--hot": o.hot = true; break;
      case "--amounts": o.amounts = v as LoadOptions["amounts"]; break;
      case "--max-share": o.maxShare = number(arg, v); break;
      case "--procs": o.procs = number(arg, v); break;
      case "--server-pid": o.serverPid = number(arg, v); break;
      case "--pids": o.pids = [...(o.pids ?? []), ...pidList(arg, v)]; break;
      case "--json": cli.json = true; break;
      case "--html": cli.html = v; break;
      case "--no-progress": o.progress = false; break;
      case "--help": cli.help = true; break;
      default:
        throw new LoadOptionsError(`unhandled flag ${arg}`);
    }
  }
  return cli;
}
