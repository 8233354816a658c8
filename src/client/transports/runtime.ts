// The TCP transport for the runtime the SDK runs on: Bun's own client under Bun (faster, and
// what the server side uses), node:net elsewhere (Node >= 20). Decided per connection, at run
// time, so one build serves both.

import type { TcpTarget, TransportFactory } from "../transport.ts";
import { bunTcpTransport } from "./bun-tcp.ts";
import { nodeNetTransport } from "./node-net.ts";

/** True under Bun. */
export function isBun(): boolean {
  return typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
}

export function runtimeTcpTransport(target: TcpTarget): TransportFactory {
  return isBun() ? bunTcpTransport(target) : nodeNetTransport(target);
}
