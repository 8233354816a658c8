// The errors `gavel` ends with: each carries the exit code it stands for (exit-codes.ts).

import { ExitCode } from "./exit-codes.ts";

/** A failure the CLI explains in one message and ends with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";

  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.FAILURE,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command line is wrong; `usage` is the command's usage line, printed after the message. */
export class UsageError extends CliError {
  override name = "UsageError";

  constructor(
    message: string,
    readonly usage: string | null = null,
  ) {
    super(message, ExitCode.USAGE);
  }
}

/** Nothing answered at `address`: the message says what to check. */
export class UnreachableError extends CliError {
  override name = "UnreachableError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.UNREACHABLE, options);
  }
}

/** The admin API answered with an error status; `message` is its error text. */
export class ApiError extends CliError {
  override name = "ApiError";

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message, status >= HTTP_SERVER_ERROR ? ExitCode.SERVER_ERROR : ExitCode.REFUSED);
  }
}

/** HTTP statuses from here up are the server's failure, not the request's. */
const HTTP_SERVER_ERROR = 500;
