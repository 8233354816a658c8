// What one load process counts: every reply by status, every broken promise of the contract
// ("a reply for every request, exactly once"), and the latency histograms. Plain counters and
// typed arrays, bumped on the hot path; serialized once at the end for the parent process.

import { ErrorCode, Status } from "../../src/protocol/constants.ts";
import { Histogram, type HistogramJson } from "./histogram.ts";

/** Status names indexed by code; one extra slot counts codes outside the contract. */
export const STATUS_NAMES: readonly string[] = namesByCode(Status);
export const STATUS_SLOTS = STATUS_NAMES.length + 1;
export const OTHER_STATUS = STATUS_SLOTS - 1;

/** ERROR code names indexed by code (slot 0 and unknown codes count as OTHER). */
export const ERROR_NAMES: readonly string[] = namesByCode(ErrorCode);
export const ERROR_SLOTS = ERROR_NAMES.length + 1;
export const OTHER_ERROR = ERROR_SLOTS - 1;

function namesByCode(set: Record<string, number>): string[] {
  const names: string[] = [];
  for (const [name, code] of Object.entries(set)) names[code] = name;
  for (let i = 0; i < names.length; i++) names[i] ??= `CODE_${i}`;
  return names;
}

export class Tally {
  /** Performance-clock time from which requests count in the figures (the end of warm-up). */
  measureFrom = Number.POSITIVE_INFINITY;

  sent = 0;
  /** Requests answered once, by a RESULT or an ERROR carrying their `req`. */
  answered = 0;
  readonly statusTotal = new Float64Array(STATUS_SLOTS);
  readonly errorTotal = new Float64Array(ERROR_SLOTS);

  /** Requests sent after warm-up, answered, and their outcomes. */
  measuredSent = 0;
  measuredAnswered = 0;
  readonly statusMeasured = new Float64Array(STATUS_SLOTS);
  readonly errorMeasured = new Float64Array(ERROR_SLOTS);
  lastMeasuredReply = 0;

  /** Reply latency in microseconds, from the (intended) send time. */
  readonly latency = new Histogram();
  /** Open loop: how late the generator sent each bid after its intended time, in microseconds. */
  readonly sendLag = new Histogram();

  /** A reply whose `req` was already answered. */
  duplicates = 0;
  /** A reply whose `req` was never sent on that connection. */
  neverSent = 0;
  /** A RESULT naming another auction than its BID. */
  mismatched = 0;
  /** ERROR frames with `req` 0 (not tied to a request). */
  unattributedErrors = 0;
  /** Frames that break the framing rules (wrong length for their type). */
  malformed = 0;
  /** Well-formed frames that answer nothing we sent (UPDATE, PONG, ...). */
  otherFrames = 0;
  /** Open loop: bids due while a connection already had MAX_SPAN requests outstanding. */
  skipped = 0;
  /** Connections the server closed before we were done. */
  closedByServer = 0;
}

export interface TallyJson {
  sent: number;
  answered: number;
  unanswered: number;
  statusTotal: number[];
  errorTotal: number[];
  measuredSent: number;
  measuredAnswered: number;
  statusMeasured: number[];
  errorMeasured: number[];
  /** Epoch milliseconds (shared clock across processes), 0 when nothing was measured. */
  lastMeasuredReplyEpochMs: number;
  latency: HistogramJson;
  sendLag: HistogramJson;
  duplicates: number;
  neverSent: number;
  mismatched: number;
  unattributedErrors: number;
  malformed: number;
  otherFrames: number;
  skipped: number;
  closedByServer: number;
}

export function tallyToJson(tally: Tally, unanswered: number): TallyJson {
  return {
    sent: tally.sent,
    answered: tally.answered,
    unanswered,
    statusTotal: [...tally.statusTotal],
    errorTotal: [...tally.errorTotal],
    measuredSent: tally.measuredSent,
    measuredAnswered: tally.measuredAnswered,
    statusMeasured: [...tally.statusMeasured],
    errorMeasured: [...tally.errorMeasured],
    lastMeasuredReplyEpochMs: tally.lastMeasuredReply === 0 ? 0 : tally.lastMeasuredReply + performance.timeOrigin,
    latency: tally.latency.toJSON(),
    sendLag: tally.sendLag.toJSON(),
    duplicates: tally.duplicates,
    neverSent: tally.neverSent,
    mismatched: tally.mismatched,
    unattributedErrors: tally.unattributedErrors,
    malformed: tally.malformed,
    otherFrames: tally.otherFrames,
    skipped: tally.skipped,
    closedByServer: tally.closedByServer,
  };
}

function addInto(target: number[], source: readonly number[]): void {
  for (let i = 0; i < source.length; i++) target[i] = (target[i] ?? 0) + source[i]!;
}

/** Sums the tallies of several processes. */
export function mergeTallies(parts: readonly TallyJson[]): TallyJson {
  const latency = new Histogram();
  const sendLag = new Histogram();
  const merged: TallyJson = {
    sent: 0,
    answered: 0,
    unanswered: 0,
    statusTotal: new Array(STATUS_SLOTS).fill(0),
    errorTotal: new Array(ERROR_SLOTS).fill(0),
    measuredSent: 0,
    measuredAnswered: 0,
    statusMeasured: new Array(STATUS_SLOTS).fill(0),
    errorMeasured: new Array(ERROR_SLOTS).fill(0),
    lastMeasuredReplyEpochMs: 0,
    latency: latency.toJSON(),
    sendLag: sendLag.toJSON(),
    duplicates: 0,
    neverSent: 0,
    mismatched: 0,
    unattributedErrors: 0,
    malformed: 0,
    otherFrames: 0,
    skipped: 0,
    closedByServer: 0,
  };
  for (const part of parts) {
    merged.sent += part.sent;
    merged.answered += part.answered;
    merged.unanswered += part.unanswered;
    addInto(merged.statusTotal, part.statusTotal);
    addInto(merged.errorTotal, part.errorTotal);
    merged.measuredSent += part.measuredSent;
    merged.measuredAnswered += part.measuredAnswered;
    addInto(merged.statusMeasured, part.statusMeasured);
    addInto(merged.errorMeasured, part.errorMeasured);
    merged.lastMeasuredReplyEpochMs = Math.max(merged.lastMeasuredReplyEpochMs, part.lastMeasuredReplyEpochMs);
    latency.merge(part.latency);
    sendLag.merge(part.sendLag);
    merged.duplicates += part.duplicates;
    merged.neverSent += part.neverSent;
    merged.mismatched += part.mismatched;
    merged.unattributedErrors += part.unattributedErrors;
    merged.malformed += part.malformed;
    merged.otherFrames += part.otherFrames;
    merged.skipped += part.skipped;
    merged.closedByServer += part.closedByServer;
  }
  merged.latency = latency.toJSON();
  merged.sendLag = sendLag.toJSON();
  return merged;
}
