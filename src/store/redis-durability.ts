// What Redis's persistence settings promise about acknowledged bids, read once at start-up;
// see docs/reliability.md ("Redis persistence settings").
//
// An ACCEPTED means the bid is stored, but "stored" in Redis means "in its memory": whether it
// survives a crash of Redis or of its host is the server's appendonly / appendfsync choice, which
// Gavel cannot change (and should not: it is the operator's). So Gavel reads it and says plainly
// when acknowledged bids can be lost.

import { Redis } from "ioredis";

/** The settings that decide what survives a crash, as CONFIG GET returns them. */
export interface RedisPersistence {
  /** "yes" or "no". */
  appendonly: string;
  /** "always", "everysec" or "no". */
  appendfsync: string;
  /** RDB snapshot rules, e.g. "3600 1 300 100 60 10000", or "" for none. */
  save: string;
}

/** CONFIG could not be read (renamed or disabled, as on many managed Redis services). */
export interface UnreadablePersistence {
  unreadable: string;
}

/** Linux writes dirty pages back after about this long (vm.dirty_expire_centisecs = 3000). */
const OS_WRITEBACK_SECONDS = 30;
const SETTINGS = ["appendonly", "appendfsync", "save"] as const;

/**
 * Reads appendonly, appendfsync and save over a short-lived connection of its own; never
 * throws: what cannot be read is reported as unreadable, with the reason.
 */
export async function readRedisPersistence(url: string, timeoutMs: number): Promise<RedisPersistence | UnreadablePersistence> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  client.on("error", () => {
    // Reported through the failed command below.
  });
  try {
    await client.connect();
    return await readPersistenceOn(client);
  } catch (error) {
    return { unreadable: (error as Error).message };
  } finally {
    client.disconnect();
  }
}

/** The same over a connection the caller holds (a cluster's master, Sentinel's primary). */
export async function readPersistenceOn(client: Redis): Promise<RedisPersistence | UnreadablePersistence> {
  try {
    // One setting per CONFIG GET: Redis before 7 takes only one.
    const replies = await Promise.all(SETTINGS.map((name) => client.config("GET", name) as Promise<string[]>));
    const values = replies.map((reply) => reply[1]);
    if (values.some((value) => value === undefined)) return { unreadable: "CONFIG GET returned no value" };
    const [appendonly, appendfsync, save] = values as [string, string, string];
    return { appendonly, appendfsync, save };
  } catch (error) {
    return { unreadable: (error as Error).message };
  }
}

/**
 * The warning to print for these settings, or null when an acknowledged bid survives a crash
 * of Redis and of its host (appendonly yes, appendfsync always).
 */
export function persistenceWarning(settings: RedisPersistence | UnreadablePersistence): string | null {
  if ("unreadable" in settings) {
    return (
      `cannot read Redis's persistence settings (CONFIG GET: ${settings.unreadable}); ` +
      "acknowledged bids survive a Redis crash only with appendonly yes and appendfsync always: check them yourself"
    );
  }
  if (settings.appendonly !== "yes") {
    const snapshots = settings.save.trim() === "" ? "and no RDB snapshots are configured: every auction" : `only RDB snapshots (save "${settings.save}"): every bid since the last snapshot`;
    return (
      `Redis runs with appendonly no ${snapshots} is lost if Redis crashes or restarts; ` +
      "for acknowledged bids to survive, run Redis with appendonly yes and appendfsync always"
    );
  }
  switch (settings.appendfsync) {
    case "always":
      return null;
    case "everysec":
      return (
        "Redis runs with appendfsync everysec: acknowledged bids of the last second or so (up to 2 s) are lost if the Redis host " +
        "crashes or loses power (a crash of redis-server alone loses none unless a slow disk made it hold writes back); appendfsync always closes that gap"
      );
    default:
      return (
        `Redis runs with appendfsync ${settings.appendfsync}: the OS decides when the AOF reaches the disk, so acknowledged bids of ` +
        `about the last ${OS_WRITEBACK_SECONDS} s are lost if the Redis host crashes or loses power; appendfsync always closes that gap`
      );
  }
}
