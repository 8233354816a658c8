// The server's clock (the one that closes auctions), seen through PING: each PONG carries the
// server's `now`; the sample with the shortest round trip gives the best offset, NTP-style.

import type { GavelClient } from "../client/index.ts";

export interface ClockSample {
  /** Round trip of the PING, ms. */
  roundTripMs: number;
  /** Server clock minus this machine's, ms (positive: the server is ahead). */
  offsetMs: number;
  /** The server's `now` in the PONG, ms since the epoch. */
  serverNow: number;
}

/** Sub-millisecond wall clock: the PONG's `now` is whole ms, the round trip is often less. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** PINGs `count` times, one after the other; returns the sample with the shortest round trip. */
export async function measureServerClock(client: GavelClient, count: number): Promise<ClockSample> {
  let best: ClockSample | null = null;
  for (let i = 0; i < count; i++) {
    const sent = wallNow();
    const { now } = await client.ping();
    const received = wallNow();
    const roundTripMs = received - sent;
    // The server read its clock somewhere in the round trip; the middle is the best guess.
    const sample = { roundTripMs, offsetMs: now - (sent + roundTripMs / 2), serverNow: now };
    if (best === null || sample.roundTripMs < best.roundTripMs) best = sample;
  }
  return best!;
}
