// `gavel max-bid`: leaves a maximum (MAX_BID, proxy bidding); the RESULT's status names the exit code.

import { type BidResult, Status } from "../../client/index.ts";
import { explainClientError } from "../client-errors.ts";
import type { Command } from "../command.ts";
import { bidExitCode, EXIT_CODE_HELP } from "../exit-codes.ts";
import { formatLeader } from "../format.ts";
import { parseAmount, parseId } from "../ids.ts";
import { statusName } from "../names.ts";
import { describeResult } from "./bid.ts";

/** Where a maximum's answer means more than a bid's. */
const MEANING: Partial<Record<Status, string>> = {
  [Status.ACCEPTED]: "you lead; the server bids for you up to your maximum, which stays private",
  [Status.OUTBID]: "not enough to lead: below the next minimum, or another bidder's maximum is as high (it answered)",
};

function describeMaxResult(result: BidResult): string {
  const meaning = MEANING[result.status];
  if (meaning === undefined) return describeResult(result);
  return `${statusName(result.status)}: ${meaning} (auction ${result.auction}: price ${result.amount}, leader ${formatLeader(result.leader)})`;
}

export const maxBidCommand: Command = {
  name: "max-bid",
  summary: "leave a maximum: the server bids for you, as little as needed, up to it",
  positionals: ["<auction>", "<user>", "<max>"],
  flags: [],
  details: `Proxy bidding (MAX_BID): the server bids for <user> one increment at a time, up to <max>
(minor units, cents), now and against every later bid; a tie goes to the earlier maximum. The
maximum is never shown to anyone: the RESULT is the auction's visible price and leader after it.
Sending a higher maximum while you lead raises it without moving the price.
With --json: {"status": "ACCEPTED", "auction", "amount", "leader"}.

${EXIT_CODE_HELP}`,
  async run({ args, output, connect, serverAddress }) {
    const auction = parseId(args.positionals[0]!, "<auction>");
    const user = parseId(args.positionals[1]!, "<user>");
    const max = parseAmount(args.positionals[2]!, "<max>");
    const client = await connect();
    try {
      const result = await client.maxBid(auction, user, max).catch((error) => {
        throw explainClientError(error, `max-bid on auction ${auction}`, serverAddress);
      });
      output.result({ status: statusName(result.status), auction: result.auction, amount: result.amount, leader: result.leader }, () =>
        describeMaxResult(result),
      );
      return bidExitCode(result.status);
    } finally {
      await client.close();
    }
  },
};
