// The rooms of src/ and the one direction their imports run (docs/architecture.md, "Rooms"):
// a file may import from its own room or a room below it, never above. A new import that runs
// the wrong way fails here, naming the file, the import and both rooms.

import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/**
 * Bottom to top. Rooms on one line share a level and may not import each other (they are
 * independent); a room imports only from lower levels, and from itself.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["protocol", "config"],
  ["log", "metrics"],
  ["auction", "auth"],
  ["store"],
  // notify: the webhook dispatcher reads the stores' outboxes; only the server wires it, and it
  // knows nothing of the ring or the drain, so it shares the queue's level.
  ["queue", "notify"],
  ["live"],
  ["net"],
  ["client"],
  ["http", "web", "cli"],
  ["server"],
];

/** The room of a file under src/: its first folder, or "server" for the top-level files. */
function roomOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split("/")[0]!;
  if (rel.startsWith("config/") || rel === "config.ts") return "config";
  return rel.includes("/") ? first : "server";
}

function levelOf(room: string): number {
  const level = LAYERS.findIndex((rooms) => rooms.includes(room));
  if (level < 0) throw new Error(`room ${room} is in no layer: add it to LAYERS and to docs/architecture.md`);
  return level;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/g;

describe("the layer order", () => {
  test("every import in src/ runs down the layers (or stays in its room)", async () => {
    const violations: string[] = [];
    for await (const path of new Glob("**/*.ts").scan(SRC)) {
      const file = join(SRC, path);
      const text = await Bun.file(file).text();
      const from = roomOf(file);
      for (const match of text.matchAll(IMPORT)) {
        const target = resolve(dirname(file), match[1]!);
        if (!target.startsWith(SRC)) continue; // package.json and the like
        const to = roomOf(target);
        if (to === from) continue;
        if (levelOf(to) >= levelOf(from)) violations.push(`${relative(SRC, file)} (${from}) imports ${match[1]} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
