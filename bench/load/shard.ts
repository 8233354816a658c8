// One load process's share of the run: its connections, the closed or open loop that drives
// them, the wait for the last replies, and its tally. The parent process (or runLoad itself,
// with one process) hands it a ShardSpec and a shared start time.

import type { Socket, SocketHandler } from "bun";
import { BidConnection, PER_MILLE, type AmountMode, type LoadContext } from "./connection.ts";
import { Tally, tallyToJson, type TallyJson } from "./tally.ts";

const MS_PER_S = 1000;
/** Connections opened at once: a burst of thousands of SYNs overflows the listen backlog. */
const CONNECT_BATCH = 256;
/** How often the driver checks whether sending is over and the replies are in. */
const POLL_MS = 5;
/** Shards report more often than the line is printed, so each printed line is fresh. */
const PROGRESS_INTERVAL_MS = 250;
/** Open loop: each timer firing sends the bids due within this many ticks (see startOpenLoop). */
const LOOK_AHEAD_TICKS = 2;

/** This process's part of a run. */
export interface ShardSpec {
  host: string;
  port: number;
  connections: number;
  /** User id of the first connection; the others follow (every connection bids as its own user). */
  firstUser: number;
  /** Closed loop: bids in flight per connection. Ignored in open loop. */
  window: number;
  /** Open loop: bids per second this process offers; 0 for the closed loop. */
  rate: number;
  /** This process's share of a --bids budget; 0 for a duration-bound run. */
  bids: number;
  durationS: number;
  warmupS: number;
  graceS: number;
  /** Open loop: bids are offered in bursts on this grid. */
  tickMs: number;
  auctionIds: number[];
  amounts: AmountMode;
  /** The share of bids sent as MAX_BID, 0..1. */
  maxShare: number;
}

export interface ShardProgress {
  sent: number;
  answered: number;
  errors: number;
  /** Duplicate, never-sent, mismatched or malformed replies and connections closed by the server. */
  problems: number;
}

export interface ShardResult {
  tally: TallyJson;
  /** This process's CPU time (user + system) over the measured window, in microseconds. */
  cpuMicros: number;
}

export interface ShardHooks {
  /** Called once every connection is open; resolves to the shared start time (epoch ms). */
  ready(): Promise<number>;
  progress?(progress: ShardProgress): void;
}

/** Errors that end a run before it starts (the server cannot be reached). */
export class LoadSetupError extends Error {
  override name = "LoadSetupError";
}

const handlers: SocketHandler<BidConnection> = {
  // Plain Uint8Array chunks (bun-types declares only "buffer" for client sockets: hence the cast).
  binaryType: "uint8array" as "buffer",
  open(socket: Socket<BidConnection>) {
    socket.data.socket = socket;
    socket.data.open = true;
  },
  data(socket: Socket<BidConnection>, chunk: Uint8Array) {
    socket.data.onData(chunk);
  },
  drain(socket: Socket<BidConnection>) {
    socket.data.flush();
  },
  close(socket: Socket<BidConnection>) {
    socket.data.onClose();
  },
  error(socket: Socket<BidConnection>) {
    socket.data.onClose();
  },
};

function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

function progressOf(tally: Tally): ShardProgress {
  let errors = tally.unattributedErrors;
  for (const n of tally.errorTotal) errors += n;
  return {
    sent: tally.sent,
    answered: tally.answered,
    errors,
    problems: tally.duplicates + tally.neverSent + tally.mismatched + tally.malformed + tally.closedByServer,
  };
}

/** Runs one process's share of the load; resolves when its replies are in or the grace is over. */
export async function runShard(spec: ShardSpec, hooks: ShardHooks): Promise<ShardResult> {
  const tally = new Tally();
  const openLoop = spec.rate > 0;
  const context: LoadContext = {
    tally,
    auctionIds: Uint32Array.from(spec.auctionIds),
    amounts: spec.amounts,
    maxPerMille: Math.round(spec.maxShare * PER_MILLE),
    amountOrigin: 0,
    stopAt: Number.POSITIVE_INFINITY,
    lastData: 0,
  };
  const connections: BidConnection[] = [];
  for (let i = 0; i < spec.connections; i++) {
    const budget = spec.bids > 0 && !openLoop ? share(spec.bids, spec.connections, i) : Number.POSITIVE_INFINITY;
    connections.push(new BidConnection(context, spec.firstUser + i, openLoop ? 0 : spec.window, budget));
  }

  try {
    for (let i = 0; i < connections.length; i += CONNECT_BATCH) {
      await Promise.all(
        connections.slice(i, i + CONNECT_BATCH).map((connection) =>
          Bun.connect<BidConnection>({ hostname: spec.host, port: spec.port, data: connection, socket: handlers }),
        ),
      );
    }
  } catch (error) {
    for (const connection of connections) connection.close();
    throw new LoadSetupError(`cannot connect to ${spec.host}:${spec.port}: ${(error as Error).message}`, { cause: error });
  }

  const startEpochMs = await hooks.ready();
  const start = startEpochMs - performance.timeOrigin;
  context.amountOrigin = start;
  tally.measureFrom = start + spec.warmupS * MS_PER_S;
  const planEnd = start + (spec.warmupS + spec.durationS) * MS_PER_S;
  if (spec.bids === 0) context.stopAt = planEnd;
  // Bun's timers have whole-millisecond steps (a sleep under 1 ms returns at once): loop.
  while (performance.now() < start) await Bun.sleep(Math.max(1, Math.floor(start - performance.now())));

  let cpuMark = process.cpuUsage();
  const warmupTimer = setTimeout(() => (cpuMark = process.cpuUsage()), Math.max(0, tally.measureFrom - performance.now()));
  const progressTimer = hooks.progress ? setInterval(() => hooks.progress!(progressOf(tally)), PROGRESS_INTERVAL_MS) : null;

  let sendingDone: () => boolean;
  if (openLoop) {
    const ticker = startOpenLoop(spec, connections, start, spec.bids === 0 ? planEnd : Number.POSITIVE_INFINITY);
    sendingDone = () => ticker.done;
  } else {
    for (const connection of connections) {
      connection.refill();
      connection.flush();
    }
    // A --bids run has no end time: if the server stops answering, the windows never free up,
    // so silence for the grace period also ends the sending (what is outstanding is reported).
    const stallMs = spec.graceS * MS_PER_S;
    sendingDone = () => {
      const now = performance.now();
      return (
        now >= context.stopAt ||
        now - Math.max(context.lastData, start) > stallMs ||
        connections.every((c) => !c.open || c.budget <= 0)
      );
    };
  }

  const openInFlight = () => {
    let n = 0;
    for (const c of connections) if (c.open) n += c.outstanding.inFlight;
    return n;
  };
  while (!sendingDone()) await Bun.sleep(POLL_MS);
  context.stopAt = Math.min(context.stopAt, performance.now());
  const graceEnd = performance.now() + spec.graceS * MS_PER_S;
  while (openInFlight() > 0 && performance.now() < graceEnd) await Bun.sleep(POLL_MS);

  clearTimeout(warmupTimer);
  if (progressTimer !== null) clearInterval(progressTimer);
  const cpu = process.cpuUsage(cpuMark);
  let unanswered = 0;
  for (const connection of connections) {
    unanswered += connection.outstanding.inFlight + connection.outstanding.abandoned;
    connection.close();
  }
  hooks.progress?.(progressOf(tally));
  return { tally: tallyToJson(tally, unanswered), cpuMicros: cpu.user + cpu.system };
}

/**
 * The open loop: bids are due on a fixed schedule (evenly spaced at the rate) whatever the
 * replies do. Bun's timers fire on a ~1 ms grid (a shorter delay is rounded), so each firing
 * sends, round-robin over the connections, every bid whose slot falls before the firing after
 * next; a bid is timed from the later of its slot and its actual send. So a late timer, a
 * blocked event loop or a slow server all count as latency (no coordinated omission), while
 * the timer's coarseness and ordinary jitter of up to a tick do not. The server sees a burst
 * about every millisecond, each of about a millisecond's bids.
 */
function startOpenLoop(spec: ShardSpec, connections: BidConnection[], start: number, end: number): { done: boolean } {
  const state = { done: false };
  const msPerBid = MS_PER_S / spec.rate;
  const budget = spec.bids > 0 ? spec.bids : Number.POSITIVE_INFINITY;
  let offered = 0; // bids whose slot has been dealt with (sent or skipped)
  let next = 0; // round-robin position over the connections

  const lookAhead = LOOK_AHEAD_TICKS * spec.tickMs;
  const run = () => {
    const horizon = Math.min(performance.now() + lookAhead, end);
    // Bids offered .. last-1 have slots before the horizon; bid k goes to connection
    // (next + k - offered) mod n. Each connection reads the clock just before its bids leave,
    // so a bid is not charged for the writes to the connections before it.
    const last = Math.min(budget, Math.max(offered, Math.ceil((horizon - start) / msPerBid)));
    const n = connections.length;
    for (let i = 0; i < n && offered + i < last; i++) {
      const connection = connections[(next + i) % n]!;
      const now = performance.now();
      for (let k = offered + i; k < last; k += n) connection.offer(start + k * msPerBid, now);
      connection.flush();
    }
    next = (next + (last - offered)) % n;
    offered = last;
    const slot = start + offered * msPerBid;
    if (offered >= budget || slot >= end) {
      state.done = true;
      return;
    }
    setTimeout(run, Math.max(0, Math.floor(slot - lookAhead - performance.now())));
  };
  setTimeout(run, Math.max(0, Math.floor(start - performance.now())));
  return state;
}
