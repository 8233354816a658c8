// A bare WebSocket client for gateway tests: sends exact bytes (or text) to /ws and keeps every
// message the server sends, raw and decoded.

import { decodeFrame, Fit, serverFrameFit, type Frame } from "../../src/protocol/codec.ts";
import { HEADER_SIZE } from "../../src/protocol/constants.ts";
import { FrameWait } from "./frame-wait.ts";

export interface WsClient {
  /** Every binary message received, as it came. */
  messages: Uint8Array[];
  /** The first frame of each message, decoded. */
  frames: Frame[];
  send(data: Uint8Array | string): void;
  /** Resolves once at least `count` frames arrived (rejects after `timeoutMs` or on close). */
  waitFor(count: number, timeoutMs?: number): Promise<Frame[]>;
  /** Resolves with the close code when the connection closes. */
  closed: Promise<number>;
  isClosed(): boolean;
  close(): void;
}

export async function connectWs(httpUrl: string, path = "/ws"): Promise<WsClient> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, "ws")}${path}`);
  ws.binaryType = "arraybuffer";
  const messages: Uint8Array[] = [];
  const frames: Frame[] = [];
  let closedFlag = false;
  const wait = new FrameWait();
  const closed = new Promise<number>((resolve) => {
    ws.addEventListener("close", (event) => {
      closedFlag = true;
      resolve(event.code);
      wait.notify();
    });
  });
  ws.addEventListener("message", (event) => {
    if (!(event.data instanceof ArrayBuffer)) throw new Error(`server sent a text message: ${String(event.data)}`);
    const bytes = new Uint8Array(event.data);
    messages.push(bytes);
    const length = bytes[1]!;
    if (serverFrameFit(bytes[0]!, length) !== Fit.OK) throw new Error(`server sent a bad frame: type ${bytes[0]} length ${length}`);
    frames.push(decodeFrame(bytes[0]!, bytes, HEADER_SIZE, length)!);
    wait.notify();
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`WebSocket to ${httpUrl}${path} failed`)), { once: true });
  });
  return {
    messages,
    frames,
    send: (data) => ws.send(data),
    async waitFor(count, timeoutMs = 10_000) {
      await wait.until(frames, count, timeoutMs, () => closedFlag);
      return frames;
    },
    closed,
    isClosed: () => closedFlag,
    close: () => ws.close(),
  };
}
