// The names of the contract's closed sets (constants.ts), for people and logs; see
// docs/protocol.md. Derived from the `as const` objects, so a code added there is named here.

import { ErrorCode, Phase, Status } from "./constants.ts";

function invert(set: Record<string, number>): ReadonlyMap<number, string> {
  return new Map(Object.entries(set).map(([name, code]) => [code, name]));
}

const statusNames = invert(Status);
const phaseNames = invert(Phase);
const errorCodeNames = invert(ErrorCode);

/** The name of a RESULT status ("ACCEPTED", ...), or `STATUS_<code>` for one this version lacks. */
export function statusName(code: number): string {
  return statusNames.get(code) ?? `STATUS_${code}`;
}

/** The name of a STATE phase ("OPEN", ...), or `PHASE_<code>` for one this version lacks. */
export function phaseName(code: number): string {
  return phaseNames.get(code) ?? `PHASE_${code}`;
}

/** The name of an ERROR code ("MALFORMED", ...), or undefined for one this version lacks. */
export function errorCodeName(code: number): string | undefined {
  return errorCodeNames.get(code);
}
