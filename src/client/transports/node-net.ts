// TCP and TLS through Node's node:net and node:tls (also what Bun's Node compatibility runs).
// Node's socket.write buffers everything it is given and keeps a reference to the bytes, so
// this adapter copies what it takes, and takes nothing while Node asks for a drain: the
// engine's bounded queue, not Node's, holds what the server is slow to read.

import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import type { TcpTarget, Transport, TransportFactory, TransportHandlers } from "../transport.ts";

export class NodeNetTransport implements Transport {
  constructor(readonly socket: Socket) {}

  write(bytes: Uint8Array, offset: number, length: number): number {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return -1;
    // Above Node's high-water mark: wait for its `drain`, which that state guarantees.
    if (socket.writableNeedDrain) return 0;
    socket.write(bytes.slice(offset, offset + length));
    return length;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }
}

/** Connections over Node's net (and tls) module. */
export function nodeNetTransport(target: TcpTarget): TransportFactory {
  return {
    target: `${target.host}:${target.port}`,
    connect: (handlers) => connectNode(target, handlers),
  };
}

function connectNode(target: TcpTarget, handlers: TransportHandlers): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const tls = target.tls ?? false;
    const options = tls === true ? {} : tls || null;
    const socket =
      options === null
        ? connectTcp({ host: target.host, port: target.port })
        : connectTls({
            host: target.host,
            port: target.port,
            ca: options.ca,
            rejectUnauthorized: options.rejectUnauthorized ?? true,
            servername: options.serverName ?? target.host,
          });
    socket.setNoDelay(true);
    let open = false;
    let failure: Error | undefined;
    socket.once(options === null ? "connect" : "secureConnect", () => {
      open = true;
      resolve(new NodeNetTransport(socket));
    });
    socket.on("data", (chunk: Buffer) => {
      if (open) handlers.data(chunk);
    });
    socket.on("drain", () => {
      if (open) handlers.drain();
    });
    socket.on("error", (error: Error) => {
      failure = error;
      if (open) handlers.error(error);
      else reject(error);
    });
    socket.on("close", () => {
      if (open) handlers.close(failure);
      else reject(failure ?? new Error("connection closed before it was ready"));
    });
  });
}
