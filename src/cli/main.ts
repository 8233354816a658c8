#!/usr/bin/env bun
// `gavel`, the operator's command line: finds the command, parses its arguments, runs it, and
// turns every failure into a message and an exit code (exit-codes.ts). See docs/cli.md.

import packageJson from "../../package.json" with { type: "json" };
import { closest } from "../config/closest.ts";
import { findCommandWord, parseArgs } from "./args.ts";
import { checkPositionals, usageLine } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { createContext, GLOBAL_FLAGS } from "./context.ts";
import { CliError, UsageError } from "./errors.ts";
import { ExitCode } from "./exit-codes.ts";
import { commandHelp, globalHelp } from "./help.ts";
import { createOutput, type Output } from "./output.ts";

const GENERAL_USAGE = "gavel <command> [arguments] [flags]   (gavel --help lists the commands)";

/** Runs one command line; resolves with the exit code once its output is written. */
export async function runCli(argv: readonly string[], env: Record<string, string | undefined>): Promise<number> {
  // --json is known before parsing, so even a usage error can answer in JSON.
  const output = createOutput(argv.includes("--json"));
  const code = await run(argv, env, output).catch((error) => fail(error, output));
  await output.flush();
  return code;
}

async function run(argv: readonly string[], env: Record<string, string | undefined>, output: Output): Promise<number> {
  const words = [...argv];
  const at = findCommandWord(words, GLOBAL_FLAGS);
  if (at < 0) {
    const args = parseArgs(words, GLOBAL_FLAGS);
    if (args.has("version")) output.result({ version: packageJson.version }, () => `gavel ${packageJson.version}`);
    else if (args.has("help")) output.raw(globalHelp(COMMANDS, packageJson.version));
    else throw new UsageError("no command given", GENERAL_USAGE);
    return ExitCode.OK;
  }
  const name = words[at]!;
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const suggestion = closest(name, COMMANDS.map((c) => c.name));
    throw new UsageError(`unknown command "${name}"${suggestion === null ? "" : ` (did you mean ${suggestion}?)`}`, GENERAL_USAGE);
  }
  words.splice(at, 1);
  if (words[at - 1] === "--") words.splice(at - 1, 1);
  let args;
  try {
    args = parseArgs(words, [...GLOBAL_FLAGS, ...command.flags]);
  } catch (error) {
    throw error instanceof UsageError && error.usage === null ? new UsageError(error.message, usageLine(command)) : error;
  }
  if (args.has("help")) {
    output.raw(commandHelp(command));
    return ExitCode.OK;
  }
  if (args.has("version")) {
    output.result({ version: packageJson.version }, () => `gavel ${packageJson.version}`);
    return ExitCode.OK;
  }
  checkPositionals(command, args.positionals);
  try {
    return await command.run(createContext(args, output, env));
  } catch (error) {
    throw error instanceof UsageError && error.usage === null ? new UsageError(error.message, usageLine(command)) : error;
  }
}

/** Prints why the command failed (stderr; and one JSON document with --json); returns its exit code. */
function fail(error: unknown, output: Output): number {
  if (error instanceof CliError) {
    const usage = error instanceof UsageError && error.usage !== null ? `\nusage: ${error.usage}` : "";
    output.note(`gavel: ${error.message}${usage}`);
    if (output.json) output.result({ error: error.message, exit_code: error.exitCode }, () => "");
    return error.exitCode;
  }
  output.note(`gavel: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  if (output.json) output.result({ error: String(error), exit_code: ExitCode.FAILURE }, () => "");
  return ExitCode.FAILURE;
}

if (import.meta.main) process.exit(await runCli(process.argv.slice(2), process.env));
