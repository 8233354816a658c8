// The result of a run: figures for people (a table) and machines (JSON), and the verdict:
// a run in which any request went unanswered, was answered twice, or got an ERROR is a failed
// run, whatever its throughput.

import { Histogram, type HistogramJson, type Percentiles } from "./histogram.ts";
import { ERROR_NAMES, OTHER_ERROR, OTHER_STATUS, STATUS_NAMES, type TallyJson } from "./tally.ts";

/** Send lag above this (p99, open loop) means the generator, not the server, set the pace. */
const SEND_LAG_WARN_US = 1000;

export interface RunConfig {
  mode: "closed" | "open";
  target: string;
  /** The store when the run spawned the server. */
  store: string | null;
  connections: number;
  window: number;
  auctions: number;
  auctionIds: { first: number; last: number; skippedTaken: number };
  hot: boolean;
  amounts: string;
  /** The share of bids sent as MAX_BID (0: plain BIDs only). */
  maxShare: number;
  /** Offered bids/s in the open loop, else 0. */
  rate: number;
  bids: number;
  durationS: number;
  warmupS: number;
  procs: number;
}

export interface CpuFigure {
  label: string;
  pid: number | null;
  /** CPU seconds over the measured window; null when the process could not be read. */
  cpuSeconds: number | null;
  /** Percent of one core over the measured window (200 = two cores busy). */
  percent: number | null;
}

export interface LoadReport {
  /** False when any request was unanswered or answered twice, or any other failure below. */
  ok: boolean;
  failures: string[];
  warnings: string[];
  config: RunConfig;
  /** Every request of the run, warm-up included: the exactly-once check covers all of them. */
  totals: {
    sent: number;
    answered: number;
    unanswered: number;
    duplicates: number;
    neverSent: number;
    mismatchedAuction: number;
    malformedFrames: number;
    unattributedErrors: number;
    otherFrames: number;
    closedByServer: number;
    skipped: number;
    statuses: Record<string, number>;
    errors: Record<string, number>;
  };
  /** Requests sent after warm-up. */
  measured: {
    seconds: number;
    sent: number;
    answered: number;
    answeredPerS: number;
    acceptedPerS: number;
    statuses: Record<string, number>;
    errors: Record<string, number>;
  };
  /** Reply latency in microseconds, from the (intended) send time. */
  latencyUs: Percentiles;
  /** Open loop only: how late bids left after their scheduled time, in microseconds. */
  sendLagUs: Percentiles | null;
  cpu: { windowS: number; processes: CpuFigure[] };
  latencyHistogram: HistogramJson;
  startedAt: string;
}

function named(counts: readonly number[], names: readonly string[], other: number, skipZero: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (skipZero && n === 0) continue;
    const name = i === other ? "OTHER" : names[i];
    if (name === undefined) continue;
    out[name] = (out[name] ?? 0) + n;
  }
  return out;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export interface ReportInput {
  config: RunConfig;
  tally: TallyJson;
  /** Seconds from the end of warm-up to the last measured reply. */
  measuredSeconds: number;
  cpuWindowS: number;
  cpu: CpuFigure[];
  startedAt: Date;
  /** Failures found outside the tally (a child process died, the server could not be reached). */
  extraFailures?: string[];
}

export function buildReport(input: ReportInput): LoadReport {
  const { tally: t, config } = input;
  const failures = [...(input.extraFailures ?? [])];
  const warnings: string[] = [];
  const errorsTotal = sum(t.errorTotal) + t.unattributedErrors;

  if (t.unanswered > 0) failures.push(`${t.unanswered} request(s) never answered (waited the grace period)`);
  if (t.duplicates > 0) failures.push(`${t.duplicates} reply(ies) to a request already answered (duplicates)`);
  if (t.neverSent > 0) failures.push(`${t.neverSent} reply(ies) to a request never sent`);
  if (t.mismatched > 0) failures.push(`${t.mismatched} RESULT(s) naming another auction than their BID`);
  if (t.malformed > 0) failures.push(`${t.malformed} malformed frame(s) from the server`);
  if (errorsTotal > 0) failures.push(`${errorsTotal} ERROR frame(s): ${JSON.stringify(named(t.errorTotal, ERROR_NAMES, OTHER_ERROR, true))}`);
  if (t.closedByServer > 0) failures.push(`${t.closedByServer} connection(s) closed by the server`);
  if (t.answered + t.unanswered !== t.sent) {
    failures.push(`bookkeeping: ${t.answered} answered + ${t.unanswered} unanswered != ${t.sent} sent`);
  }
  if (t.sent === 0) failures.push("no bid was sent");

  if (t.skipped > 0) warnings.push(`${t.skipped} bid(s) not sent: a connection already had too many outstanding (open loop beyond capacity)`);
  if (t.otherFrames > 0) warnings.push(`${t.otherFrames} frame(s) other than RESULT/ERROR received`);
  if (t.measuredAnswered === 0 && t.sent > 0) warnings.push("nothing measured: the run ended within the warm-up");
  const sendLag = config.mode === "open" ? Histogram.fromJSON(t.sendLag).summary() : null;
  if (sendLag !== null && sendLag.p99 > SEND_LAG_WARN_US) {
    warnings.push(`the generator sent late (send lag p99 ${sendLag.p99} us): try more --procs`);
  }

  const statusMeasured = named(t.statusMeasured, STATUS_NAMES, OTHER_STATUS, false);
  const seconds = input.measuredSeconds;
  return {
    ok: failures.length === 0,
    failures,
    warnings,
    config,
    totals: {
      sent: t.sent,
      answered: t.answered,
      unanswered: t.unanswered,
      duplicates: t.duplicates,
      neverSent: t.neverSent,
      mismatchedAuction: t.mismatched,
      malformedFrames: t.malformed,
      unattributedErrors: t.unattributedErrors,
      otherFrames: t.otherFrames,
      closedByServer: t.closedByServer,
      skipped: t.skipped,
      statuses: named(t.statusTotal, STATUS_NAMES, OTHER_STATUS, false),
      errors: named(t.errorTotal, ERROR_NAMES, OTHER_ERROR, true),
    },
    measured: {
      seconds,
      sent: t.measuredSent,
      answered: t.measuredAnswered,
      answeredPerS: seconds > 0 ? t.measuredAnswered / seconds : 0,
      acceptedPerS: seconds > 0 ? (statusMeasured.ACCEPTED ?? 0) / seconds : 0,
      statuses: statusMeasured,
      errors: named(t.errorMeasured, ERROR_NAMES, OTHER_ERROR, true),
    },
    latencyUs: Histogram.fromJSON(t.latency).summary(),
    sendLagUs: sendLag,
    cpu: { windowS: input.cpuWindowS, processes: input.cpu },
    latencyHistogram: t.latency,
    startedAt: input.startedAt.toISOString(),
  };
}

// ---- Text ---------------------------------------------------------------------------------

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 3 : 1);

function table(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}

/** The run's description in one line (for tables and the HTML title). */
export function describeRun(c: RunConfig): string {
  const load = c.mode === "closed" ? `closed loop C=${c.connections} x W=${c.window}` : `open loop ${int(c.rate)} bids/s over C=${c.connections}`;
  const where = c.hot ? "1 hot auction" : `${int(c.auctions)} auctions`;
  const length = c.bids > 0 ? `${int(c.bids)} bids` : `${c.durationS}s`;
  return `${load}, ${where}, ${c.amounts} amounts${c.maxShare > 0 ? ` (${Math.round(c.maxShare * 100)}% as MAX_BID)` : ""}, ${length} after ${c.warmupS}s warm-up, ${c.procs} proc(s), ${c.target}${c.store ? ` (${c.store})` : ""}`;
}

/** The summary printed at the end of a CLI run. */
export function formatReport(r: LoadReport): string {
  const lines: string[] = [];
  lines.push(`gavel load: ${describeRun(r.config)}`);
  lines.push("");
  lines.push("throughput (after warm-up)");
  lines.push(
    table([
      ["answered/s", `${int(r.measured.answeredPerS)}  (${int(r.measured.answered)} replies in ${r.measured.seconds.toFixed(2)}s)`],
      ["accepted/s", int(r.measured.acceptedPerS)],
      ...(r.config.mode === "open" ? ([["offered/s", int(r.config.rate)]] as Array<[string, string]>) : []),
    ]),
  );
  lines.push("");
  lines.push("latency (ms, from the intended send time)");
  const l = r.latencyUs;
  lines.push(
    table([
      ["p50", ms(l.p50)],
      ["p90", ms(l.p90)],
      ["p99", ms(l.p99)],
      ["p99.9", ms(l.p999)],
      ["max", ms(l.max)],
      ["mean", ms(l.mean)],
      ...(r.sendLagUs ? ([["send lag p99 / max", `${ms(r.sendLagUs.p99)} / ${ms(r.sendLagUs.max)}`]] as Array<[string, string]>) : []),
    ]),
  );
  lines.push("");
  lines.push("replies by status (after warm-up | whole run)");
  const statusRows: Array<[string, string]> = [];
  for (const [name, n] of Object.entries(r.totals.statuses)) {
    const measured = r.measured.statuses[name] ?? 0;
    if (n === 0 && measured === 0) continue;
    const share = r.measured.answered > 0 ? ` (${((100 * measured) / r.measured.answered).toFixed(1)}%)` : "";
    statusRows.push([name, `${int(measured)}${share} | ${int(n)}`]);
  }
  for (const [name, n] of Object.entries(r.totals.errors)) statusRows.push([`ERROR ${name}`, `${int(r.measured.errors[name] ?? 0)} | ${int(n)}`]);
  lines.push(statusRows.length > 0 ? table(statusRows) : "  (none)");
  lines.push("");
  lines.push("exactly once (whole run)");
  const t = r.totals;
  lines.push(
    table([
      ["sent", int(t.sent)],
      ["answered", int(t.answered)],
      ["unanswered", int(t.unanswered)],
      ["duplicate replies", int(t.duplicates)],
      ["replies never asked for", int(t.neverSent)],
    ]),
  );
  lines.push("");
  lines.push(`cpu (% of one core, over ${r.cpu.windowS.toFixed(2)}s)`);
  lines.push(
    table(
      r.cpu.processes.map((p): [string, string] => [
        p.pid === null ? p.label : `${p.label} (pid ${p.pid})`,
        p.percent === null ? "n/a (process gone or unreadable)" : `${p.percent.toFixed(0)}%`,
      ]),
    ),
  );
  for (const warning of r.warnings) lines.push(`\nwarning: ${warning}`);
  if (r.failures.length > 0) {
    lines.push("");
    lines.push("!!!!!!!! LOAD RUN FAILED !!!!!!!!");
    for (const failure of r.failures) lines.push(`  - ${failure}`);
  } else {
    lines.push("");
    lines.push("ok: every request answered exactly once");
  }
  return lines.join("\n");
}
