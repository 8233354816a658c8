// What a command declares: its name, usage, flags and how it runs. main.ts finds it by name,
// checks the command line against it, and prints its help.

import type { FlagSpec } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { UsageError } from "./errors.ts";
import type { ExitCode } from "./exit-codes.ts";

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The positionals, as the usage line names them ("<auction>"); all are required. */
  readonly positionals: readonly string[];
  /** Its own flags; the global ones come on top. */
  readonly flags: readonly FlagSpec[];
  /** More help: what it prints, examples. */
  readonly details?: string;
  run(context: CommandContext): Promise<ExitCode>;
}

/** "gavel bid <auction> <user> <amount> [flags]" */
export function usageLine(command: Command): string {
  return ["gavel", command.name, ...command.positionals, "[flags]"].join(" ");
}

/** Checks the number of positionals against the command's. */
export function checkPositionals(command: Command, positionals: readonly string[]): void {
  const expected = command.positionals.length;
  if (positionals.length < expected) {
    throw new UsageError(`${command.name} needs ${command.positionals.slice(positionals.length).join(" ")}`, usageLine(command));
  }
  if (positionals.length > expected) {
    throw new UsageError(`${command.name} takes ${expected === 0 ? "no arguments" : command.positionals.join(" ")}; unexpected "${positionals[expected]}"`, usageLine(command));
  }
}
