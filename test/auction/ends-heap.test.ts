// The closer's heap against a sorted-array model: the same entries come out in the same order,
// and takeDue's lazy deletion returns exactly the auctions due by their current ends_at.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { EndsHeap, GONE, takeDue } from "../../src/auction/ends-heap.ts";

const byEndsThenId = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];

describe("EndsHeap", () => {
  test("pops entries in (endsAt, id) order, pushes and pops interleaved, like a sorted array", () => {
    const op = fc.oneof(
      fc.record({ push: fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 30 })) }),
      fc.constant({ pop: true }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const heap = new EndsHeap();
        const model: [number, number][] = [];
        for (const o of ops) {
          if ("push" in o) {
            heap.push(o.push[0], o.push[1]);
            model.push(o.push);
            model.sort(byEndsThenId);
          } else {
            const expected = model.shift();
            expect(heap.peekEndsAt()).toBe(expected?.[0] ?? Infinity);
            expect(heap.peekId()).toBe(expected?.[1] ?? 0);
            heap.pop();
          }
          expect(heap.size).toBe(model.length);
        }
      }),
    );
  });

  test("takeDue returns each auction due by its current ends_at once, skips the gone, re-pushes the moved", () => {
    const auction = fc.record({
      endsAt: fc.integer({ min: 0, max: 100 }),
      // Anti-sniping only moves an end later.
      movedBy: fc.integer({ min: 0, max: 40 }),
      gone: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(auction, { maxLength: 200 }), fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 10 }), fc.integer({ min: 1, max: 20 }), (auctions, nows, limit) => {
        const heap = new EndsHeap();
        // Some auctions twice (a rollback pushes a fresh entry): still closed once.
        auctions.forEach((a, i) => heap.push(a.endsAt, i + 1));
        auctions.forEach((a, i) => i % 7 === 0 && heap.push(a.endsAt, i + 1));
        const current = (id: number) => {
          const a = auctions[id - 1]!;
          return a.gone ? GONE : a.endsAt + a.movedBy;
        };
        const closed = new Set<number>();
        const currentUnlessClosed = (id: number) => (closed.has(id) ? GONE : current(id));
        for (const now of [...nows].sort((a, b) => a - b)) {
          for (;;) {
            const taken = takeDue(heap, now, limit, currentUnlessClosed, (id) => {
              expect(closed.has(id)).toBe(false);
              expect(current(id)).toBeLessThanOrEqual(now);
              closed.add(id);
            });
            expect(taken).toBeLessThanOrEqual(limit);
            if (taken < limit) break;
          }
          // The model: every auction not gone whose current end has passed is closed by now.
          const expected = auctions.map((_, i) => i + 1).filter((id) => current(id) !== GONE && current(id) <= now);
          expect([...closed].sort((a, b) => a - b)).toEqual(expected);
        }
      }),
    );
  });
});
