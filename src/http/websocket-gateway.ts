// The WebSocket gateway: `/ws` on the HTTP port carries the binary protocol, one frame per
// binary message, into the same connections, RequestHandler, ring, drain and hub as TCP.
// See docs/protocol.md ("WebSocket").

import type { Server, ServerWebSocket, WebSocketHandler } from "bun";
import type { Connection } from "../net/connection.ts";
import type { Transport } from "../net/transport.ts";
import { isOneFrame, WebSocketTransport } from "../net/websocket-transport.ts";
import { ErrorCode, HEADER_SIZE, MAX_FRAME } from "../protocol/constants.ts";

/** Where the gateway listens on the HTTP port. */
export const WS_PATH = "/ws";
/**
 * Largest message Bun reads at all; larger ones it closes with 1009 (message too big) before
 * Gavel sees them. Anything above MAX_FRAME is malformed anyway; the margin lets a client that
 * sends a few frames in one message hear ERROR MALFORMED rather than a bare close.
 */
export const MAX_MESSAGE_BYTES = 64 * MAX_FRAME;

/** What the gateway needs of the server: the same admission and cleanup as TCP. */
export interface ConnectionHost {
  /** Wraps a transport in a Connection; refuses it (TOO_MANY_CONNECTIONS) past the limit. */
  accept(transport: Transport): Connection;
  /** The connection has closed: forget it everywhere. */
  release(connection: Connection): void;
  /** False once the server is stopping: no new connections. */
  readonly accepting: boolean;
  /** Bun's own send buffer bound per socket (a safety net; see websocket-transport.ts). */
  readonly maxOutbound: number;
}

interface SocketData {
  transport: WebSocketTransport | null;
  connection: Connection | null;
}

/** Answers a message that is not one binary frame: ERROR MALFORMED, then close, as on TCP. */
function refuse(connection: Connection, message: string): void {
  connection.queueError(0, ErrorCode.MALFORMED, message);
  connection.closeAfterFlush();
  connection.flush();
}

export function createWebSocketGateway(host: ConnectionHost) {
  const websocket: WebSocketHandler<SocketData> = {
    maxPayloadLength: MAX_MESSAGE_BYTES,
    backpressureLimit: host.maxOutbound,
    closeOnBackpressureLimit: false,
    perMessageDeflate: false,
    open(ws) {
      const transport = new WebSocketTransport(ws as ServerWebSocket<unknown>);
      ws.data.transport = transport;
      ws.data.connection = host.accept(transport);
    },
    message(ws, message) {
      const connection = ws.data.connection;
      if (connection === null || connection.closing || connection.closed) return;
      if (typeof message === "string") {
        refuse(connection, "text message: frames travel in binary messages");
      } else if (!isOneFrame(message)) {
        const declared = message.length >= HEADER_SIZE ? ` (its header declares ${HEADER_SIZE + message[1]!})` : "";
        refuse(connection, `a message must hold exactly one frame; got ${message.length} bytes${declared}`);
      } else {
        connection.receive(message);
      }
    },
    drain(ws) {
      ws.data.transport?.drained();
      ws.data.connection?.flush();
    },
    close(ws) {
      const connection = ws.data.connection;
      if (connection !== null) host.release(connection);
    },
  };

  return {
    websocket: websocket as WebSocketHandler<unknown>,
    /** Upgrades `GET /ws`; null once upgraded, undefined for any other path. */
    fetch(request: Request, server: Server<unknown>): Response | null | undefined {
      if (!isWsPath(request.url)) return undefined;
      if (!host.accepting) return new Response("server is shutting down", { status: 503 });
      const data: SocketData = { transport: null, connection: null };
      if ((server as Server<SocketData>).upgrade(request, { data })) return null;
      return new Response("expected a WebSocket upgrade", { status: 426, headers: { upgrade: "websocket" } });
    },
  };
}

/** The request path is /ws (any query string)? Checked without building a URL. */
function isWsPath(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return false;
  const end = url.indexOf("?", start);
  return url.slice(start, end < 0 ? undefined : end) === WS_PATH;
}
