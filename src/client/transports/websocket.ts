/// <reference lib="dom" />
// The protocol over a WebSocket (the server's /ws; browsers, Bun and Node 22+ have the
// global WebSocket): each binary message carries exactly one frame, both ways. The engine
// writes batches of whole frames, so this adapter sends each frame of a batch as its own
// message. A WebSocket cannot stop reading: pause() is a no-op here, so a subscription's
// bound on buffered events holds over TCP only (docs/sdk.md).

import { HEADER_SIZE } from "../../protocol/constants.ts";
import type { Transport, TransportFactory, TransportHandlers } from "../transport.ts";

/**
 * Bytes the browser may hold unsent before writes wait: WebSocket.send never refuses, so this
 * is where the engine's bounded queue takes over.
 */
export const WEBSOCKET_HIGH_WATER_BYTES = 1024 * 1024;
/** WebSocket has no drain event: while full, bufferedAmount is checked this often. */
export const WEBSOCKET_DRAIN_POLL_MS = 10;
const WS_OPEN = 1;
const NORMAL_CLOSURE = 1000;

export class WebSocketTransport implements Transport {
  private drainTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly handlers: TransportHandlers,
  ) {}

  write(bytes: Uint8Array, offset: number, length: number): number {
    const ws = this.ws;
    if (ws.readyState !== WS_OPEN) return -1;
    if (ws.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES) {
      this.watchDrain();
      return 0;
    }
    const end = offset + length;
    let at = offset;
    while (at < end) {
      // A trailing partial frame (sendRaw of odd bytes) goes as it is: the server judges it.
      const frameEnd = end - at >= HEADER_SIZE ? Math.min(end, at + HEADER_SIZE + bytes[at + 1]!) : end;
      ws.send(bytes.slice(at, frameEnd));
      at = frameEnd;
    }
    return length;
  }

  pause(): void {}

  resume(): void {}

  end(): void {
    this.stopDrainWatch();
    this.ws.close(NORMAL_CLOSURE);
  }

  terminate(): void {
    this.end();
  }

  /** @internal */
  stopDrainWatch(): void {
    if (this.drainTimer !== undefined) clearInterval(this.drainTimer);
    this.drainTimer = undefined;
  }

  private watchDrain(): void {
    if (this.drainTimer !== undefined) return;
    this.drainTimer = setInterval(() => {
      if (this.ws.readyState !== WS_OPEN) return this.stopDrainWatch();
      if (this.ws.bufferedAmount > WEBSOCKET_HIGH_WATER_BYTES) return;
      this.stopDrainWatch();
      this.handlers.drain();
    }, WEBSOCKET_DRAIN_POLL_MS);
  }
}

/**
 * Connections over a WebSocket to `url` (e.g. `ws://host:7401/ws`).
 *
 * @example
 * ```ts
 * const client = await GavelClient.connect({ transport: webSocketTransport("ws://127.0.0.1:7401/ws") });
 * ```
 */
export function webSocketTransport(url: string): TransportFactory {
  return {
    target: url,
    connect: (handlers) => connectWebSocket(url, handlers),
  };
}

function connectWebSocket(url: string, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    let transport: WebSocketTransport | undefined;
    ws.onopen = () => {
      transport = new WebSocketTransport(ws, handlers);
      resolve(transport);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (transport !== undefined && event.data instanceof ArrayBuffer) handlers.data(new Uint8Array(event.data));
    };
    ws.onclose = (event: CloseEvent) => {
      if (transport === undefined) {
        reject(new Error(`WebSocket to ${url} closed before it opened (code ${event.code})`));
        return;
      }
      transport.stopDrainWatch();
      handlers.close(event.code === NORMAL_CLOSURE ? undefined : new Error(`WebSocket closed with code ${event.code} ${event.reason}`.trim()));
    };
    // An error event carries no detail and is always followed by close, which reports it.
    ws.onerror = () => {};
  });
}
