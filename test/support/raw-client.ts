// A bare TCP client for tests that send exact bytes (malformed frames, byte-at-a-time writes)
// and look at every frame the server sends back.

import type { Socket } from "bun";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { decodeFrame, serverFrameFit, Fit, type Frame } from "../../src/protocol/codec.ts";
import { FrameWait } from "./frame-wait.ts";

export interface RawClient {
  frames: Frame[];
  send(bytes: Uint8Array): void;
  /** Bytes sent that the socket has not taken yet (the server stopped reading: backpressure). */
  unsentBytes(): number;
  /** Resolves once at least `count` frames arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<Frame[]>;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export async function connectRaw(port: number): Promise<RawClient> {
  const frames: Frame[] = [];
  const wait = new FrameWait();
  let closedFlag = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    if (serverFrameFit(type, length) !== Fit.OK) throw new Error(`server sent a bad frame: type ${type} length ${length}`);
    frames.push(decodeFrame(type, bytes, payload, length)!);
    return true;
  });
  const pendingWrites: Uint8Array[] = [];
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_socket, chunk: Uint8Array) {
        assembler.push(chunk);
        wait.notify();
      },
      drain(s) {
        while (pendingWrites.length > 0) {
          const next = pendingWrites[0]!;
          const written = s.write(next);
          if (written < next.length) {
            pendingWrites[0] = next.subarray(Math.max(written, 0));
            return;
          }
          pendingWrites.shift();
        }
      },
      close() {
        closedFlag = true;
        resolveClosed();
        wait.notify();
      },
    },
  });
  return {
    frames,
    send(bytes) {
      if (pendingWrites.length > 0) {
        pendingWrites.push(bytes);
        return;
      }
      const written = socket.write(bytes);
      if (written < bytes.length) pendingWrites.push(bytes.subarray(Math.max(written, 0)));
    },
    unsentBytes: () => pendingWrites.reduce((sum, bytes) => sum + bytes.length, 0),
    async waitFor(count, timeoutMs = 10_000) {
      await wait.until(frames, count, timeoutMs, () => closedFlag);
      return frames;
    },
    closed,
    isClosed: () => closedFlag,
    close: () => socket.end(),
  };
}

export function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, "hex"));
}
