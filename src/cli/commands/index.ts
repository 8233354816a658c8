// Every command, in the order `gavel --help` lists them.

import type { Command } from "../command.ts";
import { cancelCommand, getCommand, listCommand } from "./auctions.ts";
import { backupCommand } from "./backup.ts";
import { bidCommand } from "./bid.ts";
import { bidsCommand } from "./bids.ts";
import { createCommand } from "./create.ts";
import { maxBidCommand } from "./max-bid.ts";
import { pingCommand } from "./ping.ts";
import { watchCommand } from "./watch.ts";

export const COMMANDS: readonly Command[] = [
  createCommand,
  getCommand,
  listCommand,
  bidsCommand,
  cancelCommand,
  bidCommand,
  maxBidCommand,
  watchCommand,
  pingCommand,
  backupCommand,
];
