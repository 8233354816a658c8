// The errors a GavelClient rejects with; see docs/protocol.md ("ERROR code").

import { ErrorCode } from "../protocol/constants.ts";
import { errorCodeName } from "../protocol/names.ts";

/**
 * The server answered with an ERROR frame. `code` is one of {@link ErrorCode}; `req` is the
 * request it answers, or 0 when it is tied to none (MALFORMED, UNKNOWN_TYPE,
 * TOO_MANY_CONNECTIONS).
 *
 * @example
 * ```ts
 * try {
 *   await client.auth(token);
 * } catch (error) {
 *   if (error instanceof GavelError && error.code === ErrorCode.AUTH_FAILED) showLogin();
 * }
 * ```
 */
export class GavelError extends Error {
  override readonly name = "GavelError";

  constructor(
    readonly code: number,
    message: string,
    readonly req: number,
  ) {
    super(message === "" ? (errorCodeName(code) ?? `ERROR ${code}`) : message);
  }

  /** The code's name in the contract ("MALFORMED", ...), or undefined for a code it lacks. */
  get codeName(): string | undefined {
    return errorCodeName(this.code);
  }
}

/** The connection could not be made, or closed before the request was answered. */
export class GavelConnectionError extends Error {
  override readonly name = "GavelConnectionError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The server sent bytes the contract does not allow; the client closes the connection. */
export class GavelProtocolError extends Error {
  override readonly name = "GavelProtocolError";
}

/**
 * A request would grow the client's write queue past `maxQueuedBytes`: the server is not
 * reading. Nothing of the request was sent; retry once earlier requests are answered.
 */
export class GavelBackpressureError extends Error {
  override readonly name = "GavelBackpressureError";
}
