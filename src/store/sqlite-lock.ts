// One server per SQLite file, held by a lock the kernel drops when the process dies.
//
// Why flock(2) on a sidecar `<db>.lock`, through bun:ffi:
// - The kernel releases it the moment the holder exits, however it exits: a server killed with
//   kill -9 that lingers as a zombie (its parent gone, PID 1 slow or never reaping it) no longer
//   holds it, so a restart succeeds at once. A pid kept in the database could not tell a zombie,
//   or a recycled pid after a container restart, from a live server.
// - flock locks belong to one open file description, so a second store in the same process is
//   refused too (fcntl locks, which SQLite uses, are per process and would let it through), and
//   closing some other descriptor of the file does not drop it (as it would an fcntl lock).
// - flock(int, int) is a plain, non-variadic libc call, safe through bun:ffi (fcntl is variadic).
// - The lock is not on the database itself: its checkpoint worker is a second connection that
//   SQLite's own exclusive locking mode would shut out, and a copy of the file (VACUUM INTO, cp)
//   carries no ownership with it.
// - A sidecar outlives the database file: deleting `gavel.db` under a running server leaves the
//   lock in place, so a second server on the same path is still refused. (The store watches both
//   paths, sqlite-file-identity.ts: if the lock file itself is deleted, the running server stops
//   acknowledging, so at most one server ever acknowledges writes for a path.)
// The lock file holds the owner's pid, so a refused server can name it. It is left in place at
// close: deleting a lock file races with a server that has it open and is about to lock it.

import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, ftruncateSync, writeSync } from "node:fs";
import { StoreError } from "./errors.ts";

/** From <sys/file.h>. */
const LOCK_EX = 2;
const LOCK_NB = 4;
/** From <errno.h>: the lock is held by another open file (EWOULDBLOCK). */
const EAGAIN = 11;
const LOCK_FILE_MODE = 0o644;
const LIBC = "libc.so.6";

let libc: ReturnType<typeof openLibc> | null = null;

function openLibc() {
  return dlopen(LIBC, {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

/** The lock file's path for a database path. */
export function lockPathFor(dbPath: string): string {
  return `${dbPath}.lock`;
}

/** The pid the lock file names, or null when it names none (yet). */
function ownerPid(fd: number): number | null {
  const text = readFileSync(fd, "utf8").trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

export class SqliteFileLock {
  private constructor(
    readonly path: string,
    private fd: number | null,
  ) {}

  /**
   * Takes the lock for `dbPath`, or throws a StoreError naming the process that holds it.
   * Never waits: a second server stops at start-up instead of queueing behind the first.
   */
  static acquire(dbPath: string): SqliteFileLock {
    const path = lockPathFor(dbPath);
    libc ??= openLibc();
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, LOCK_FILE_MODE);
    if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const errno = read.i32(libc.symbols.__errno_location()!, 0);
      const pid = errno === EAGAIN ? ownerPid(fd) : null;
      closeSync(fd);
      if (errno !== EAGAIN) throw new StoreError(`cannot lock ${path} (errno ${errno})`);
      const owner = pid === process.pid ? "this process already serves it" : pid === null ? "another server serves it" : `process ${pid} serves it`;
      throw new StoreError(`${owner} (it holds the lock on ${path})`);
    }
    // Locked, but maybe a file that was just unlinked or replaced at the path: then the lock
    // shuts nobody out. Refuse rather than guess; a second try finds the new file.
    const held = fstatSync(fd);
    const named = statSync(path, { throwIfNoEntry: false });
    if (named === undefined || named.ino !== held.ino || named.dev !== held.dev) {
      closeSync(fd);
      throw new StoreError(`the lock file ${path} was replaced while it was being locked; try again`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return new SqliteFileLock(path, fd);
  }

  /** Drops the lock (closing the descriptor releases it). */
  release(): void {
    if (this.fd === null) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed: nothing is held either way.
    }
    this.fd = null;
  }
}
