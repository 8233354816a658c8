// The memory store's history columns across their growth and chunk boundaries.

import { test, expect } from "bun:test";
import { AuctionHistory } from "../../src/store/auction-history.ts";
test("every entry reads back across the first chunk's doublings and the fixed chunks after it", () => {
  const h = new AuctionHistory();
  for (let i = 1; i <= 20000; i++) h.record(i * 10, i % 7, i, i + 5);
  for (const s of [1, 16, 17, 4096, 4097, 8192, 8193, 20000]) expect(h.entry(s)).toEqual({ seq: s, amount: s * 10, user: s % 7, at: s, endsAt: s + 5, by: 0 });
  expect(h.after(4095, 3).map((e) => e.seq)).toEqual([4096, 4097, 4098]);
  expect(h.newestFirst(20001, 2).map((e) => e.seq)).toEqual([20000, 19999]);
});
