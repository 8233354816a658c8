// Names of the protocol's closed sets by code (docs/protocol.md): the one reverse map every
// room uses to print a status, phase, error code or frame type. Unknown codes give undefined,
// so each caller says an unknown one its own way.

import { ErrorCode, FrameType, Phase, Status } from "./constants.ts";

function reverse(set: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map(Object.entries(set).map(([name, code]) => [code, name]));
}

const STATUS_NAMES = reverse(Status);
const PHASE_NAMES = reverse(Phase);
const ERROR_CODE_NAMES = reverse(ErrorCode);
const FRAME_TYPE_NAMES = reverse(FrameType);

/** "ACCEPTED" for 0, ...; undefined for a code the contract does not have. */
export function statusName(code: number): string | undefined {
  return STATUS_NAMES.get(code);
}

/** "SCHEDULED", "OPEN", ...; undefined for a code the contract does not have. */
export function phaseName(code: number): string | undefined {
  return PHASE_NAMES.get(code);
}

/** "MALFORMED", ...; undefined for a code the contract does not have. */
export function errorCodeName(code: number): string | undefined {
  return ERROR_CODE_NAMES.get(code);
}

/** "BID", ...; undefined for a type the contract does not have. */
export function frameTypeName(type: number): string | undefined {
  return FRAME_TYPE_NAMES.get(type);
}
