// `gavel watch`: follows an auction live (SUBSCRIBE) until it closes, reconnecting when the
// connection drops; the countdown runs on the server's clock (PING's `now`).

import { NO_REPLAY, Phase } from "../../client/index.ts";
import type { AuctionJson } from "../admin-api.ts";
import { explainClientError } from "../client-errors.ts";
import type { Command } from "../command.ts";
import { ApiError, CliError, UnreachableError } from "../errors.ts";
import { ExitCode } from "../exit-codes.ts";
import { parseId } from "../ids.ts";
import { measureServerClock } from "../server-clock.ts";
import { applyEvent, FEED_SIZE, jsonView, lineView, liveView, newWatchModel, type WatchView } from "../watch-views.ts";

/** PINGs for the clock offset; the fastest counts. */
const CLOCK_SAMPLES = 3;
/** The live view redraws its countdown this often. */
const TICK_MS = 250;
const HTTP_NOT_FOUND = 404;
/** When the terminal does not say its width. */
const DEFAULT_COLUMNS = 80;

export const watchCommand: Command = {
  name: "watch",
  summary: "follow an auction live until it closes",
  positionals: ["<auction>"],
  flags: [],
  details: `Shows the title, price, leader, a countdown on the server's clock, the recent bids and the
close. On a terminal the view is redrawn in place; otherwise one line per event; with --json one
object per event: {"event": "state"|"update"|"closed"|"disconnected"|"reconnected", ...}.
The last ${FEED_SIZE} bids are replayed after the state. A dropped connection is re-opened and
resumes where it left off. Exits 0 once the auction has closed; stop it earlier with Ctrl-C.`,
  async run({ args, output, admin, connect, serverAddress }) {
    const id = parseId(args.positionals[0]!, "<auction>");
    // The title lives only in the admin API; the live view works without it.
    const [auction, client] = await Promise.all([
      admin()
        .get<AuctionJson>(`/v1/auctions/${id}`)
        .catch((error) => {
          if (error instanceof ApiError && error.status === HTTP_NOT_FOUND) throw new CliError(`no auction ${id}`, ExitCode.REFUSED);
          if (error instanceof UnreachableError || error instanceof ApiError) {
            output.note(`gavel: note: no title (${error.message})`);
            return null;
          }
          throw error;
        }),
      connect({ reconnect: true }),
    ]);
    const view: WatchView = output.json ? jsonView(output) : process.stdout.isTTY ? liveView(output, () => process.stdout.columns || DEFAULT_COLUMNS) : lineView(output);
    let ticker: ReturnType<typeof setInterval> | undefined;
    try {
      const clock = await measureServerClock(client, CLOCK_SAMPLES).catch((error) => {
        throw explainClientError(error, "ping", serverAddress);
      });
      const model = newWatchModel(id, auction?.title ?? null, clock.offsetMs);
      client.onDisconnect((reason) => {
        model.reconnecting = reason.message;
        view.changed(model);
      });
      client.onReconnect(() => {
        model.reconnecting = null;
        view.changed(model);
      });
      const since = auction === null ? NO_REPLAY : Math.max(0, auction.seq - FEED_SIZE);
      const subscription = client.subscribe(id, since);
      let first = true;
      try {
        for await (const event of subscription) {
          if (first && event.type === "state" && event.phase === Phase.UNKNOWN) throw new CliError(`no auction ${id}`, ExitCode.REFUSED);
          first = false;
          applyEvent(model, event);
          view.changed(model, event);
          if (view.ticks && ticker === undefined) ticker = setInterval(() => view.tick(model), TICK_MS);
        }
      } catch (error) {
        throw error instanceof CliError ? error : explainClientError(error, `watch auction ${id}`, serverAddress);
      }
      return ExitCode.OK;
    } finally {
      clearInterval(ticker);
      await client.close();
    }
  },
};
