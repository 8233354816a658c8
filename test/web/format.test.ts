// The live page's money and time formatting (pure functions, no browser).

import { describe, expect, test } from "bun:test";
import { formatCountdown, formatMoney, formatMoneyInput, parseMoney } from "../../src/web/format.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

describe("money", () => {
  test("minor units show as units with two decimals, grouped", () => {
    expect(formatMoney(0)).toBe("0.00");
    expect(formatMoney(5)).toBe("0.05");
    expect(formatMoney(1234)).toBe("12.34");
    expect(formatMoney(150050)).toBe("1,500.50");
    expect(formatMoney(Number.MAX_SAFE_INTEGER)).toBe("90,071,992,547,409.91");
    expect(formatMoneyInput(150050)).toBe("1500.50");
  });

  test("typed amounts parse to minor units", () => {
    expect(parseMoney("12.34")).toBe(1234);
    expect(parseMoney("12.3")).toBe(1230);
    expect(parseMoney("12")).toBe(1200);
    expect(parseMoney("12.")).toBe(1200);
    expect(parseMoney(".5")).toBe(50);
    expect(parseMoney(" 1,500.50 ")).toBe(150050);
    expect(parseMoney("90071992547409.91")).toBe(Number.MAX_SAFE_INTEGER);
  });

  test("anything else is refused", () => {
    for (const bad of ["", ".", "0", "0.00", "-1", "1.234", "abc", "1e3", "90071992547409.92"]) expect(parseMoney(bad)).toBeNull();
  });

  test("formatting and parsing round-trip", () => {
    for (const minor of [1, 99, 100, 101, 123456789, Number.MAX_SAFE_INTEGER]) {
      expect(parseMoney(formatMoney(minor))).toBe(minor);
      expect(parseMoney(formatMoneyInput(minor))).toBe(minor);
    }
  });
});

describe("countdown", () => {
  test("shows days, hours, minutes and seconds as they apply", () => {
    expect(formatCountdown(-5000)).toBe("00:00");
    expect(formatCountdown(0)).toBe("00:00");
    expect(formatCountdown(1)).toBe("00:01");
    expect(formatCountdown(59_000)).toBe("00:59");
    expect(formatCountdown(61_000)).toBe("01:01");
    expect(formatCountdown(3_600_000)).toBe("1:00:00");
    expect(formatCountdown(3_723_000)).toBe("1:02:03");
    expect(formatCountdown(2 * 86_400_000 + 3 * 3_600_000)).toBe("2d 03h");
  });
});
