// The TCP adapter: a thin pass-through to a Bun Socket, allocation-free on every call.
// Bun's `socket.write` does not buffer: it takes what the kernel takes and returns that count
// (-1 once the socket is closed), which is exactly the Transport contract.

import type { Socket } from "bun";
import type { Transport } from "./transport.ts";

/** Bun types declare pause/resume only on some sockets; TCP sockets have them at run time. */
type PausableSocket = Socket<unknown> & { pause(): boolean; resume(): boolean };

export class TcpTransport implements Transport {
  private readonly socket: PausableSocket;
  readonly closeWaitsForClient = true;

  constructor(socket: Socket<unknown>) {
    this.socket = socket as PausableSocket;
  }

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

  /**
   * shutdown(2) of the write side: a FIN after what was written. Bun's `end()` would also close
   * the socket at once when nothing is left to write, and a close with unread input is a reset.
   * The socket stays readable; the server drops what it reads and Bun closes it when the
   * client's FIN arrives.
   */
  halfClose(): void {
    this.socket.shutdown();
  }

  terminate(): void {
    this.socket.terminate();
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress;
  }
}
