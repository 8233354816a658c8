// `gavel --help` and `gavel <command> --help`.

import type { FlagSpec } from "./args.ts";
import { type Command, usageLine } from "./command.ts";
import { GLOBAL_FLAGS } from "./context.ts";
import { EXIT_CODE_HELP } from "./exit-codes.ts";

const FLAG_GAP = 2;

function flagLines(flags: readonly FlagSpec[]): string {
  const left = flags.map((f) => `  --${f.name}${f.placeholder ? ` ${f.placeholder}` : ""}`);
  const width = Math.max(...left.map((l) => l.length)) + FLAG_GAP;
  return flags.map((f, i) => `${left[i]!.padEnd(width)}${f.help}`).join("\n");
}

export function globalHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => usageLine(c).length)) + FLAG_GAP;
  return `gavel ${version}: operate a Gavel auction server from the command line

usage: gavel <command> [arguments] [flags]

Commands:
${commands.map((c) => `  ${usageLine(c).padEnd(width)}${c.summary}`).join("\n")}

Flags for every command:
${flagLines(GLOBAL_FLAGS)}

"gavel <command> --help" tells more. Admin commands (create, get, list, bids, cancel) use the
admin HTTP API; bid, watch and ping use the bid port; backup reads the SQLite file.

${EXIT_CODE_HELP}`;
}

export function commandHelp(command: Command): string {
  const own = command.flags.length > 0 ? `\nFlags:\n${flagLines(command.flags)}\n` : "";
  const details = command.details ? `\n${command.details}\n` : "";
  return `usage: ${usageLine(command)}

${command.summary}
${details}${own}
Flags for every command:
${flagLines(GLOBAL_FLAGS)}
`;
}
