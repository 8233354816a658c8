// Where results go: one JSON document per line with --json, text for people otherwise. Writes
// are queued and awaited (Bun.write), so nothing is cut off when the process exits into a slow pipe.

/** The two ways a result is shown. */
export interface Output {
  readonly json: boolean;
  /** Prints `document` as one line of JSON (with --json) or `text()` (without). */
  result(document: unknown, text: () => string): void;
  /** Text for people only (nothing with --json). */
  line(text: string): void;
  /** A note on stderr (progress, warnings): never part of the result. */
  note(text: string): void;
  /** Raw text to stdout (the live view's redraws). */
  raw(text: string): void;
  /** Resolves once everything written so far has left. */
  flush(): Promise<void>;
}

export function createOutput(json: boolean): Output {
  let pending: Promise<unknown> = Promise.resolve();
  const write = (target: typeof Bun.stdout, text: string) => {
    pending = pending.then(() => Bun.write(target, text));
  };
  return {
    json,
    result(document, text) {
      write(Bun.stdout, json ? `${JSON.stringify(document)}\n` : `${text()}\n`);
    },
    line(text) {
      if (!json) write(Bun.stdout, `${text}\n`);
    },
    note(text) {
      write(Bun.stderr, `${text}\n`);
    },
    raw(text) {
      write(Bun.stdout, text);
    },
    async flush() {
      await pending;
    },
  };
}
