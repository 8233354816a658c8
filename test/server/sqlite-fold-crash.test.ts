// The SQLite store folds its bid log into the `bids` table and the auctions' rows, in steps of
// one transaction each, while bids keep coming (src/store/sqlite-fold.ts). Killed with SIGKILL
// at random moments (the fold runs every 50 ms under this load, so kills land before, inside
// and after fold steps), restarted on the same file, several times over: every bid any client
// saw ACCEPTED must be in the history (served from the folded table and the log together), the
// seqs must still run 1..n, and the consistency checker must hold over every life.

import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Status } from "../../src/protocol/constants.ts";
import { assertConsistent, ClientLog, fetchFinalState, settle, type FinalAuction } from "../support/consistency.ts";
import { spawnGavel, type GavelProcess } from "../support/process.ts";
import { loggedSubscriber, SteadyLoad } from "../support/steady-load.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const AUCTIONS = 6;
const CONNECTIONS = 3;
const PER_TICK = 40;
const LIVES = 5;
/** Each life bids for a random time in this range before its kill. */
const LIFE_MIN_MS = 300;
const LIFE_SPREAD_MS = 900;
/** Each life bids above anything an earlier one could have sent. */
const AMOUNT_STEP_PER_LIFE = 10_000_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startNode(env: Record<string, string>): Promise<GavelProcess> {
  const node = await spawnGavel(env);
  cleanups.push(() => node.kill("SIGKILL"));
  return node;
}

test(`kill -9 at random moments while the bid log is folded, ${LIVES} lives: every acknowledged bid is in the history`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "gavel-fold-crash-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const env = { GAVEL_STORE: "sqlite", GAVEL_DB: join(dir, "gavel.db") };
  const log = new ClientLog();
  let node = await startNode(env);
  const auctions: number[] = [];
  for (let i = 0; i < AUCTIONS; i++) {
    const response = await fetch(`${node.httpUrl}/v1/auctions`, { method: "POST", body: JSON.stringify({ ends_at: Date.now() + 3_600_000 }) });
    expect(response.status).toBe(201);
    auctions.push(((await response.json()) as { id: number }).id);
  }
  let accepted = 0;
  const lifetimes: number[] = [];
  for (let life = 1; ; life++) {
    // A full replay each life: the history read back through both the table and the log.
    const subscriber = await loggedSubscriber(node.port, log.subscriber(`sub, life ${life}`), auctions);
    const load = await SteadyLoad.start({
      port: node.port,
      auctions,
      connections: CONNECTIONS,
      perTick: PER_TICK,
      log,
      label: `life ${life}`,
      firstAmount: life * AMOUNT_STEP_PER_LIFE,
    });
    cleanups.push(() => load.close());
    if (life === LIVES) {
      await Bun.sleep(LIFE_MIN_MS);
      await load.settle();
      const final = (await settle(log, async () => {
        subscriber.sync();
        return fetchFinalState(node.httpUrl, auctions);
      })) as FinalAuction[];
      subscriber.sync();
      load.close();
      subscriber.client.close();
      accepted += load.count(Status.ACCEPTED);
      assertConsistent(log, final, { allowUnacknowledged: true });
      expect(node.output()).not.toContain("error");
      await node.kill("SIGKILL");
      // The fold did its work: most bids sit in the indexed table, little is left in the log.
      const db = new Database(env.GAVEL_DB, { readonly: true });
      const [folded] = db.prepare("SELECT count(*) FROM bids").values()[0] as [number];
      const [logRows] = db.prepare("SELECT count(*) FROM bid_log").values()[0] as [number];
      db.close();
      const total = final.reduce((sum, a) => sum + a.seq, 0);
      console.log(`fold under kill -9: lives of ${lifetimes.join(", ")} ms, ${accepted} ACCEPTED, ${total} bids stored, ${folded} folded, ${logRows} log rows left`);
      expect(folded).toBeGreaterThan(total / 2);
      break;
    }
    const lifetime = LIFE_MIN_MS + Math.floor(Math.random() * LIFE_SPREAD_MS);
    lifetimes.push(lifetime);
    await Bun.sleep(lifetime);
    await node.kill("SIGKILL");
    await load.settle();
    load.close();
    subscriber.sync();
    accepted += load.count(Status.ACCEPTED);
    node = await startNode(env);
  }
  expect(accepted).toBeGreaterThan(0);
});
