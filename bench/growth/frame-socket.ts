// A loopback connection to a server that hands each decoded frame it receives to a callback.

import type { Socket } from "bun";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import { decodeFrame } from "../../src/protocol/codec.ts";

export type DecodedFrame = NonNullable<ReturnType<typeof decodeFrame>>;

export async function connectFrames(port: number, onFrame: (frame: DecodedFrame) => void): Promise<Socket> {
  const assembler = new FrameAssembler((type, bytes, payload, length) => {
    const frame = decodeFrame(type, bytes, payload, length);
    if (frame !== null) onFrame(frame);
    return true;
  });
  return Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      binaryType: "uint8array",
      data(_s, chunk: Uint8Array) {
        assembler.push(chunk);
      },
    },
  });
}
