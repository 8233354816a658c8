// Command-line parsing: flags (`--name value`, `--name=value`, switches) and positionals, checked
// against what a command declares, with typed getters whose errors name the flag.

import { closest } from "../config/closest.ts";
import { UsageError } from "./errors.ts";

/** A switch is present or not; a value flag takes the next word (or `=value`). */
export const FlagKind = { SWITCH: "switch", VALUE: "value" } as const;
export type FlagKind = (typeof FlagKind)[keyof typeof FlagKind];

export interface FlagSpec {
  /** Without the dashes: "starting-price". */
  readonly name: string;
  readonly kind: FlagKind;
  /** The value's placeholder in help ("CENTS", "URL"). */
  readonly placeholder?: string;
  readonly help: string;
}

/** Ends the flags: every word after it is a positional. */
const END_OF_FLAGS = "--";
const FLAG_PREFIX = "--";
const SHORT_HELP = "-h";

/** The words of a command line, sorted into flags and positionals. */
export class Args {
  constructor(
    private readonly flags: ReadonlyMap<string, string | true>,
    readonly positionals: readonly string[],
  ) {}

  /** True when the switch (or value flag) was given. */
  has(name: string): boolean {
    return this.flags.has(name);
  }

  /** The value flag's text, or undefined when absent. */
  text(name: string): string | undefined {
    const value = this.flags.get(name);
    return typeof value === "string" ? value : undefined;
  }

  /** The value flag as a whole number within [min, max], or undefined when absent. */
  integer(name: string, min: number, max: number): number | undefined {
    const text = this.text(name);
    return text === undefined ? undefined : parseWholeNumber(text, `--${name}`, min, max);
  }
}

/** Parses `text` as a whole number within [min, max]; `what` names it in the error. */
export function parseWholeNumber(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, not "${text}"`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`${what} must be between ${min} and ${max}, not ${text}`);
  return value;
}

/**
 * Sorts `words` into flags and positionals. Unknown flags, a value flag without its value, a
 * value given to a switch and a flag given twice are usage errors naming the flag.
 */
export function parseArgs(words: readonly string[], known: readonly FlagSpec[]): Args {
  const specs = new Map(known.map((spec) => [spec.name, spec]));
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === END_OF_FLAGS) {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (word === SHORT_HELP) {
      flags.set("help", true);
      continue;
    }
    if (!word.startsWith(FLAG_PREFIX)) {
      positionals.push(word);
      continue;
    }
    const equals = word.indexOf("=");
    const name = word.slice(FLAG_PREFIX.length, equals < 0 ? undefined : equals);
    const spec = specs.get(name);
    if (spec === undefined) {
      const suggestion = closest(name, [...specs.keys()]);
      throw new UsageError(`unknown flag --${name}${suggestion === null ? "" : ` (did you mean --${suggestion}?)`}`);
    }
    if (flags.has(name)) throw new UsageError(`--${name} is given twice`);
    if (spec.kind === FlagKind.SWITCH) {
      if (equals >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (equals >= 0) value = word.slice(equals + 1);
    else if (i + 1 < words.length && !words[i + 1]!.startsWith(FLAG_PREFIX)) value = words[++i];
    if (value === undefined || value === "") throw new UsageError(`--${name} needs a value (${spec.placeholder ?? "VALUE"})`);
    flags.set(name, value);
  }
  return new Args(flags, positionals);
}

/**
 * Finds the command word: the first word that is neither a flag nor the value of one of the
 * `valueFlags` (global flags may come before the command). Returns its index, or -1.
 */
export function findCommandWord(words: readonly string[], valueFlags: readonly FlagSpec[]): number {
  const takesValue = new Set(valueFlags.filter((f) => f.kind === FlagKind.VALUE).map((f) => `${FLAG_PREFIX}${f.name}`));
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === END_OF_FLAGS) return i + 1 < words.length ? i + 1 : -1;
    if (!word.startsWith("-")) return i;
    if (takesValue.has(word)) i++;
  }
  return -1;
}
