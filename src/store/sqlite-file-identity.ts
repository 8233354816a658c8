// Notices that a file a running store depends on was deleted or replaced under it (rm, or
// another file renamed over the path). SQLite keeps writing into the file it opened: into an
// unlinked inode, every later commit "succeeds" and is gone at the next start. Comparing each
// path's device and inode with the ones seen at open catches both, for one stat per path.

import { statSync } from "node:fs";

interface Identity {
  dev: bigint;
  ino: bigint;
}

function identityOf(path: string): Identity | null {
  const stats = statSync(path, { bigint: true, throwIfNoEntry: false });
  return stats === undefined ? null : { dev: stats.dev, ino: stats.ino };
}

export class FileIdentity {
  private readonly expected: Identity;

  /** Remembers what `path` names now (call right after opening it). */
  constructor(
    readonly path: string,
    /** What the file is, for messages: "the SQLite database", "its lock file". */
    readonly role: string,
  ) {
    const identity = identityOf(path);
    if (identity === null) throw new Error(`${path} does not exist`);
    this.expected = identity;
  }

  /** What happened to the file since, in words, or null while the path still names it. */
  change(): string | null {
    let now: Identity | null;
    try {
      now = identityOf(this.path);
    } catch (error) {
      return `${this.role} ${this.path} can no longer be looked at (${(error as Error).message})`;
    }
    if (now === null) return `${this.role} ${this.path} was deleted`;
    if (now.dev !== this.expected.dev || now.ino !== this.expected.ino) return `${this.role} ${this.path} was replaced by another file`;
    return null;
  }
}
