// The names of the protocol's closed sets, as the CLI prints them (statuses as in the
// contract, phases as the admin API writes them).

import { ErrorCode, Phase, Status } from "../client/index.ts";

const STATUS_NAMES = new Map<number, string>(Object.entries(Status).map(([name, code]) => [code, name]));
const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));
const PHASE_NAMES = new Map<number, string>(Object.entries(Phase).map(([name, code]) => [code, name.toLowerCase()]));

/** "ACCEPTED", "OUTBID", ...; a code this version does not know reads "STATUS_<n>". */
export function statusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `STATUS_${status}`;
}

/** "MALFORMED", "UNAVAILABLE", ...; an unknown code reads "ERROR_<n>". */
export function errorCodeName(code: number): string {
  return ERROR_NAMES.get(code) ?? `ERROR_${code}`;
}

/** "scheduled", "open", "closed" (or "unknown": no such auction). */
export function phaseName(phase: number): string {
  return PHASE_NAMES.get(phase) ?? `phase_${phase}`;
}
