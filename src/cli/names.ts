// The names of the protocol's closed sets, as the CLI prints them (statuses as in the
// contract, phases as the admin API writes them).

import * as names from "../protocol/names.ts";

/** "ACCEPTED", "OUTBID", ...; a code this version does not know reads "STATUS_<n>". */
export function statusName(status: number): string {
  return names.statusName(status) ?? `STATUS_${status}`;
}

/** "MALFORMED", "UNAVAILABLE", ...; an unknown code reads "ERROR_<n>". */
export function errorCodeName(code: number): string {
  return names.errorCodeName(code) ?? `ERROR_${code}`;
}

/** "scheduled", "open", "closed" (or "unknown": no such auction). */
export function phaseName(phase: number): string {
  return names.phaseName(phase)?.toLowerCase() ?? `phase_${phase}`;
}
