// The WebSocket adapter: the same frames as TCP, one frame per binary message; see
// docs/protocol.md ("WebSocket").
//
// Backpressure, once: Bun's `ws.sendBinary` returns the bytes it sent, -1 when it took the
// message but had to queue it (the client is slow), or 0 when it dropped it (past Bun's own
// buffer limit, or closed). On -1 the frame counts as taken but the transport takes nothing
// more until Bun's `drain` event (`drained()`); on 0 the frame and the rest stay in the
// connection's queue. So Bun's buffer holds at most about one frame beyond what the kernel
// holds, and the bound that matters stays the connection's own (GAVEL_MAX_OUTBOUND), as on TCP.

import type { ServerWebSocket } from "bun";
import { HEADER_SIZE } from "../protocol/constants.ts";
import type { Transport } from "./transport.ts";

/** `ServerWebSocket.send*` results (Bun's ServerWebSocketSendStatus). */
const SendStatus = { DROPPED: 0, BACKPRESSURE: -1 } as const;
/** WebSocket readyState OPEN. */
const WS_OPEN = 1;
/** Close code for a graceful end (RFC 6455, 1000 normal closure). */
const NORMAL_CLOSURE = 1000;

/**
 * Is `message` exactly one whole frame (type u8, len u8, then len bytes)? Each binary message
 * must be; anything else is MALFORMED (see docs/protocol.md).
 */
export function isOneFrame(message: Uint8Array): boolean {
  return message.length >= HEADER_SIZE && message.length === HEADER_SIZE + message[1]!;
}

export class WebSocketTransport implements Transport {
  /** Bun queued a message behind backpressure (or dropped one): take nothing until `drained`. */
  private congested = false;
  // The batch `sendFrames` works on; fields rather than a closure so `cork` needs no allocation.
  private batch: Uint8Array | null = null;
  private batchOffset = 0;
  private batchEnd = 0;
  private readonly sendBatch = (): number => this.sendFrames();
  readonly closeWaitsForClient = false;

  constructor(private readonly ws: ServerWebSocket<unknown>) {}

  /** Sends each whole frame in the range as its own binary message, in one corked write. */
  write(bytes: Uint8Array, offset: number, length: number): number {
    if (this.ws.readyState !== WS_OPEN) return -1;
    if (this.congested) return 0;
    this.batch = bytes;
    this.batchOffset = offset;
    this.batchEnd = offset + length;
    const sent = this.ws.cork(this.sendBatch);
    this.batch = null;
    return sent - offset;
  }

  /** Returns the offset after the last frame Bun took. */
  private sendFrames(): number {
    const bytes = this.batch!;
    const end = this.batchEnd;
    let at = this.batchOffset;
    while (end - at >= HEADER_SIZE) {
      const frameEnd = at + HEADER_SIZE + bytes[at + 1]!;
      if (frameEnd > end) break;
      const status = this.ws.sendBinary(bytes.subarray(at, frameEnd));
      if (status === SendStatus.DROPPED) {
        // Not taken: it stays queued in the connection; Bun's buffer is full, so `drain` follows.
        this.congested = true;
        break;
      }
      at = frameEnd;
      if (status === SendStatus.BACKPRESSURE) {
        this.congested = true;
        break;
      }
    }
    return at;
  }

  /** Bun's `drain`: the client caught up; the connection may write again. */
  drained(): void {
    this.congested = false;
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    this.ws.close(NORMAL_CLOSURE);
  }

  /**
   * A normal close frame after what was sent. Bun reports the close at once (the `close` event
   * runs inside this call); underneath, the socket's write side is shut down and what the client
   * still sends is read and dropped until its close arrives, so nothing is reset while the
   * process lives (the server's stop sequence waits a little for that, see server-stop.ts).
   */
  halfClose(): void {
    this.ws.close(NORMAL_CLOSURE);
  }

  terminate(): void {
    this.ws.terminate();
  }

  get remoteAddress(): string {
    return this.ws.remoteAddress;
  }
}
