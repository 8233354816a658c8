// `gavel backup`: a consistent copy of the SQLite database while the server runs. SQLite's
// `VACUUM INTO` reads one snapshot (WAL lets a reader beside the writer) and writes a compact
// copy; the copy is then checked (`PRAGMA integrity_check`) and made startable on its own.

import { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { SETTINGS } from "../../config/settings.ts";
import { FlagKind } from "../args.ts";
import type { Command } from "../command.ts";
import { CliError } from "../errors.ts";
import { ExitCode } from "../exit-codes.ts";

/** How long the copy waits for a lock (a checkpoint in progress) before giving up. */
const BUSY_TIMEOUT_MS = 5_000;
const INTEGRITY_OK = "ok";
/** Tables every Gavel SQLite file has. */
const GAVEL_TABLE = "auctions";
/**
 * The table naming the server that owns the file (one server per file). A copy must not carry
 * the running server's row, or a server started on the copy would be refused while the first
 * one lives; newer servers may not have the table at all.
 */
const OWNER_TABLE = "owner";
const BYTES_PER_KIB = 1024;

export const backupCommand: Command = {
  name: "backup",
  summary: "copy the SQLite database, consistently, while the server runs",
  positionals: ["<file>"],
  flags: [
    {
      name: "db",
      kind: FlagKind.VALUE,
      placeholder: "PATH",
      help: `the server's database (default: $${SETTINGS.dbPath.env}, else ${SETTINGS.dbPath.default})`,
    },
  ],
  details: `Run it on the server's machine (it reads the file, not the network). The copy is one
consistent snapshot: every bid acknowledged before it began is in it. It is checked with
PRAGMA integrity_check and can be served at once: GAVEL_DB=<file> bun run start.
<file> must not exist. With --json: {"source", "file", "bytes", "auctions", "integrity"}.`,
  async run({ args, output, env }) {
    const source = resolve(args.text("db") ?? env[SETTINGS.dbPath.env] ?? SETTINGS.dbPath.default);
    const target = resolve(args.positionals[0]!);
    if (!existsSync(source)) throw new CliError(`no database at ${source}: pass --db (the server's GAVEL_DB)`);
    if (existsSync(target)) throw new CliError(`${target} already exists: name a new file`);
    copy(source, target);
    const { auctions, integrity } = verify(target);
    const bytes = statSync(target).size;
    output.result({ source, file: target, bytes, auctions, integrity }, () => `backed up ${source} to ${target}: ${Math.ceil(bytes / BYTES_PER_KIB)} KiB, ${auctions} auctions, integrity ${integrity}`);
    return ExitCode.OK;
  },
};

function copy(source: string, target: string): void {
  let db: Database;
  try {
    // Read-only: this connection can never write the server's file.
    db = new Database(source, { readonly: true });
  } catch (error) {
    throw new CliError(`cannot open ${source}: ${(error as Error).message}`);
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!hasTable(db, GAVEL_TABLE)) throw new CliError(`${source} is not a Gavel database (it has no ${GAVEL_TABLE} table)`);
    db.run("VACUUM INTO ?", [target]);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot copy ${source} to ${target}: ${(error as Error).message}`);
  } finally {
    db.close();
  }
}

/** Checks the copy, clears its owner, counts its auctions. A failed check is an error. */
function verify(target: string): { auctions: number; integrity: string } {
  const db = new Database(target);
  try {
    const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    const integrity = rows.map((row) => row.integrity_check).join("; ");
    if (integrity !== INTEGRITY_OK) throw new CliError(`the copy ${target} failed its integrity check: ${integrity}`);
    if (hasTable(db, OWNER_TABLE)) db.run(`DELETE FROM ${OWNER_TABLE}`);
    const auctions = db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${GAVEL_TABLE}`).get()!.n;
    return { auctions, integrity };
  } finally {
    db.close();
  }
}

function hasTable(db: Database, name: string): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== null;
}
