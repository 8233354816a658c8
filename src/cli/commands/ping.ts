// `gavel ping`: is the bid port answering, how fast, and how far its clock is from ours.

import { FlagKind } from "../args.ts";
import { explainClientError } from "../client-errors.ts";
import type { Command } from "../command.ts";
import { ExitCode } from "../exit-codes.ts";
import { formatOffset } from "../format.ts";
import { measureServerClock } from "../server-clock.ts";

const DEFAULT_COUNT = 3;
const MAX_COUNT = 1_000;
const MS_DECIMALS = 3;

export const pingCommand: Command = {
  name: "ping",
  summary: "round trip to the bid port, and the server clock's offset",
  positionals: [],
  flags: [{ name: "count", kind: FlagKind.VALUE, placeholder: "N", help: `PINGs to send, one after the other (default ${DEFAULT_COUNT}); the fastest counts` }],
  details: `The offset is the server's clock minus this machine's (positive: the server is ahead);
auctions close by the server's clock. With --json: {"server", "round_trip_ms", "offset_ms", "server_now", "pings"}.`,
  async run({ args, output, connect, serverAddress }) {
    const count = args.integer("count", 1, MAX_COUNT) ?? DEFAULT_COUNT;
    const client = await connect();
    try {
      const best = await measureServerClock(client, count).catch((error) => {
        throw explainClientError(error, "ping", serverAddress);
      });
      const roundTrip = Number(best.roundTripMs.toFixed(MS_DECIMALS));
      const offset = Number(best.offsetMs.toFixed(MS_DECIMALS));
      output.result({ server: serverAddress, round_trip_ms: roundTrip, offset_ms: offset, server_now: best.serverNow, pings: count }, () =>
        `pong from ${serverAddress}: round trip ${best.roundTripMs.toFixed(2)} ms, server clock ${formatOffset(best.offsetMs)} from this machine's (best of ${count})`,
      );
      return ExitCode.OK;
    } finally {
      await client.close();
    }
  },
};
