// The listing's ordered id set against a sorted-array model, with enough ids to split chunks.

import { expect, test } from "bun:test";
import fc from "fast-check";
import { SortedIds } from "../../src/store/sorted-ids.ts";

test("SortedIds: add, delete, has and keyset pages match a sorted array", () => {
  const op = fc.oneof(
    fc.record({ add: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ addRun: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ delete: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ page: fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 300 })) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const set = new SortedIds();
      const model = new Set<number>();
      for (const o of ops) {
        if ("add" in o) expect(set.add(o.add)).toBe(!model.has(o.add) && model.add(o.add) !== undefined);
        else if ("addRun" in o) {
          // A run of ascending ids, as generated ids arrive: enough to split chunks.
          for (let id = o.addRun; id < o.addRun + 1500; id++) {
            expect(set.add(id)).toBe(!model.has(id));
            model.add(id);
          }
        } else if ("delete" in o) expect(set.delete(o.delete)).toBe(model.delete(o.delete));
        else {
          const [after, limit] = o.page;
          const expected = [...model].filter((id) => id > after).sort((a, b) => a - b).slice(0, limit);
          expect(set.after(after, limit)).toEqual(expected);
        }
        expect(set.size).toBe(model.size);
      }
      const all = [...model].sort((a, b) => a - b);
      expect(set.after(0, all.length + 1)).toEqual(all);
      for (const id of all.slice(0, 50)) expect(set.has(id)).toBe(true);
    }),
    { numRuns: 60 },
  );
});

test("SortedIds: a filtered walk of pages visits every accepted id exactly once", () => {
  const set = new SortedIds();
  for (let id = 1; id <= 10_000; id++) set.add(id * 3);
  const seen: number[] = [];
  let after = 0;
  for (;;) {
    const page = set.after(after, 100, (id) => id % 2 === 0);
    seen.push(...page);
    if (page.length < 100) break;
    after = page.at(-1)!;
  }
  expect(seen).toEqual(Array.from({ length: 5000 }, (_, i) => (i + 1) * 6));
});
