// The exit codes of `gavel`, a closed set a script can branch on; `--help` and docs/cli.md list them.

import { Status } from "../client/index.ts";

export const ExitCode = {
  /** Done: the command did what it says (a bid was ACCEPTED). */
  OK: 0,
  /** Something unexpected (a bug, a failed backup check, a file that cannot be written). */
  FAILURE: 1,
  /** The command line is wrong: nothing was sent. */
  USAGE: 2,
  /** The bid was answered and lost for good: OUTBID, CLOSED, NOT_STARTED, UNKNOWN, FORBIDDEN, INVALID. */
  BID_LOST: 3,
  /** The bid was not decided: UNAVAILABLE, UNCONFIRMED, OVERLOADED, RATE_LIMITED. Query, then retry. */
  BID_RETRY: 4,
  /** The server could not be reached, or the connection dropped before the answer. */
  UNREACHABLE: 5,
  /** The server refused the request (an HTTP 4xx such as 404 or 409, or an ERROR frame). */
  REFUSED: 6,
  /** The server failed the request (an HTTP 5xx: its store is down). Retry later. */
  SERVER_ERROR: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * How a bid's status maps to an exit code. UNCONFIRMED and UNAVAILABLE may have been stored:
 * resubmitting the same bid is safe (it is never applied twice), or QUERY first.
 */
const BID_EXIT: Record<Status, ExitCode> = {
  [Status.ACCEPTED]: ExitCode.OK,
  [Status.OUTBID]: ExitCode.BID_LOST,
  [Status.UNKNOWN]: ExitCode.BID_LOST,
  [Status.CLOSED]: ExitCode.BID_LOST,
  [Status.NOT_STARTED]: ExitCode.BID_LOST,
  [Status.FORBIDDEN]: ExitCode.BID_LOST,
  [Status.INVALID]: ExitCode.BID_LOST,
  [Status.RATE_LIMITED]: ExitCode.BID_RETRY,
  [Status.OVERLOADED]: ExitCode.BID_RETRY,
  [Status.UNAVAILABLE]: ExitCode.BID_RETRY,
  [Status.UNCONFIRMED]: ExitCode.BID_RETRY,
};

/** The exit code for a RESULT status; a status this version does not know counts as "retry". */
export function bidExitCode(status: number): ExitCode {
  return BID_EXIT[status as Status] ?? ExitCode.BID_RETRY;
}

/** The exit codes as `--help` prints them. */
export const EXIT_CODE_HELP = `Exit codes:
  0  done (a bid: ACCEPTED)
  1  unexpected failure (a failed backup check, a file that cannot be written)
  2  bad arguments (nothing was sent)
  3  bid lost: OUTBID, CLOSED, NOT_STARTED, UNKNOWN, FORBIDDEN, INVALID
  4  bid not decided, try again: UNAVAILABLE, UNCONFIRMED, OVERLOADED, RATE_LIMITED
     (UNCONFIRMED/UNAVAILABLE may have been stored: resubmitting the same bid is safe)
  5  server unreachable, or the connection dropped before the answer
  6  refused by the server (not found, already exists, already ended, bad field, token)
  7  server error (its store is down): try again later
`;
