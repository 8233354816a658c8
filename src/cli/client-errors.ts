// What the SDK's rejections mean for the CLI: an ERROR frame or a lost connection becomes a
// CliError whose exit code tells a script whether to give up or try again.

import { ErrorCode, GavelConnectionError, GavelError } from "../client/index.ts";
import { CliError, UnreachableError } from "./errors.ts";
import { ExitCode } from "./exit-codes.ts";
import { errorCodeName } from "./names.ts";

/** ERROR codes that say "the server cannot now, try again (maybe elsewhere)". */
const RETRY_ERRORS: ReadonlySet<number> = new Set([ErrorCode.SHUTTING_DOWN, ErrorCode.TOO_MANY_CONNECTIONS]);
/** ERROR codes that say "the server failed". */
const SERVER_ERRORS: ReadonlySet<number> = new Set([ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE, ErrorCode.RESET]);

/** Turns what a GavelClient request rejected with into a CliError; `what` names the request. */
export function explainClientError(error: unknown, what: string, serverAddress: string): Error {
  if (error instanceof GavelError) {
    const exitCode = RETRY_ERRORS.has(error.code) ? ExitCode.BID_RETRY : SERVER_ERRORS.has(error.code) ? ExitCode.SERVER_ERROR : ExitCode.REFUSED;
    const name = errorCodeName(error.code);
    const detail = error.message === name ? "" : `: ${error.message}`;
    return new CliError(`${what}: the server answered ERROR ${name}${detail}`, exitCode, { cause: error });
  }
  if (error instanceof GavelConnectionError) {
    return new UnreachableError(`${what}: the connection to ${serverAddress} dropped before the answer (${error.message})`, { cause: error });
  }
  if (error instanceof RangeError) return new CliError(`${what}: ${error.message}`, ExitCode.USAGE, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}
