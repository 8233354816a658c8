// TCP and TLS through Bun.connect. Bun's socket.write does not buffer: it takes what the kernel
// accepts and says how much, which is exactly the Transport contract. Bun is touched only
// when a connection is made, so this module loads anywhere.

import type { TcpTarget, Transport, TransportFactory, TransportHandlers } from "../transport.ts";

/** The part of Bun's Socket this adapter uses (named here so the SDK's types need no bun-types). */
export interface BunSocket {
  write(bytes: Uint8Array, offset: number, length: number): number;
  pause(): void;
  resume(): void;
  end(): void;
  terminate(): void;
}

export class BunTcpTransport implements Transport {
  constructor(readonly socket: BunSocket) {}

  write(bytes: Uint8Array, offset: number, length: number): number {
    return this.socket.write(bytes, offset, length);
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
    this.socket.terminate();
  }
}

/** Connections over Bun's TCP (and TLS) client. */
export function bunTcpTransport(target: TcpTarget): TransportFactory {
  return {
    target: `${target.host}:${target.port}`,
    connect: (handlers) => connectBun(target, handlers),
  };
}

async function connectBun(target: TcpTarget, handlers: TransportHandlers): Promise<Transport> {
  const tls = target.tls ?? false;
  // With TLS, Bun.connect resolves before the handshake: the connection is ready (and its
  // events are passed on) once the handshake succeeds; one the client does not trust fails here.
  const ready = Promise.withResolvers<void>();
  ready.promise.catch(() => {}); // settled either way; awaited only with TLS
  let open = !tls;
  const socket = await Bun.connect({
    hostname: target.host,
    port: target.port,
    tls,
    socket: {
      binaryType: "uint8array",
      handshake: (socket, success, error) => {
        if (!success) {
          ready.reject(new Error(`TLS handshake failed: ${error?.message}`, { cause: error }));
          socket.terminate();
          return;
        }
        open = true;
        ready.resolve();
      },
      data: (_socket, chunk: Uint8Array) => {
        if (open) handlers.data(chunk);
      },
      drain: () => {
        if (open) handlers.drain();
      },
      close: (_socket, error) => {
        ready.reject(new Error("connection closed before the TLS handshake", { cause: error }));
        if (open) handlers.close(error);
      },
      error: (_socket, error) => {
        if (open) handlers.error(error);
      },
    },
  });
  if (tls) await ready.promise;
  return new BunTcpTransport(socket);
}
