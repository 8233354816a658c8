// `gavel bid`: one BID over the binary protocol; the RESULT's status names the exit code.

import { type BidResult, Status } from "../../client/index.ts";
import { explainClientError } from "../client-errors.ts";
import type { Command } from "../command.ts";
import { bidExitCode, EXIT_CODE_HELP } from "../exit-codes.ts";
import { formatLeader } from "../format.ts";
import { parseAmount, parseId } from "../ids.ts";
import { statusName } from "../names.ts";

/** What each status means, in words (the RESULT's amount and leader follow). */
const MEANING: Record<Status, string> = {
  [Status.ACCEPTED]: "you lead",
  [Status.OUTBID]: "not enough to lead",
  [Status.UNKNOWN]: "no such auction",
  [Status.CLOSED]: "the auction has ended",
  [Status.NOT_STARTED]: "the auction has not opened yet",
  [Status.RATE_LIMITED]: "too many bids from this user: try again shortly",
  [Status.OVERLOADED]: "the server is overloaded: try again shortly",
  [Status.FORBIDDEN]: "this connection may not bid for that user",
  [Status.UNAVAILABLE]: "the store is unavailable: probably not stored; query or resubmit the same bid",
  [Status.INVALID]: "the bid is not valid (ids and amount must be 1 or more)",
  [Status.UNCONFIRMED]: "the store did not confirm in time: it may or may not be stored; query or resubmit the same bid",
};

export function describeResult(result: BidResult): string {
  const meaning = MEANING[result.status] ?? "a status this version does not know";
  return `${statusName(result.status)}: ${meaning} (auction ${result.auction}: price ${result.amount}, leader ${formatLeader(result.leader)})`;
}

export const bidCommand: Command = {
  name: "bid",
  summary: "place a bid; the exit code says how it went",
  positionals: ["<auction>", "<user>", "<amount>"],
  flags: [],
  details: `The amount is in minor units (cents). Prints the RESULT: its status by name, then the
auction's price and leader after the bid. With --json: {"status": "ACCEPTED", "auction", "amount", "leader"}.

${EXIT_CODE_HELP}`,
  async run({ args, output, connect, serverAddress }) {
    const auction = parseId(args.positionals[0]!, "<auction>");
    const user = parseId(args.positionals[1]!, "<user>");
    const amount = parseAmount(args.positionals[2]!, "<amount>");
    const client = await connect();
    try {
      const result = await client.bid(auction, user, amount).catch((error) => {
        throw explainClientError(error, `bid on auction ${auction}`, serverAddress);
      });
      output.result({ status: statusName(result.status), auction: result.auction, amount: result.amount, leader: result.leader }, () =>
        describeResult(result),
      );
      return bidExitCode(result.status);
    } finally {
      await client.close();
    }
  },
};
