// The one settings table: README's table, --help and --version are derived from it, unknown
// settings are named with the closest known one, and every setting parses from its flag.

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, loadConfig, unknownSettingWarnings } from "../../src/config.ts";
import { closest, editDistance } from "../../src/config/closest.ts";
import { settingsMarkdownTable } from "../../src/config/help.ts";
import { flagOf, SETTING_LIST, SettingKind } from "../../src/config/settings.ts";
import packageJson from "../../package.json" with { type: "json" };
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const ROOT = join(import.meta.dir, "../..");

/** Runs `bun run start -- <args>` as README says and returns its exit code and output. */
async function runStart(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", "run", "start", "--", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

describe("the settings table", () => {
  test("README's settings table is the table, row for row (`bun run src/config/help.ts` prints it)", async () => {
    const readme = await Bun.file(join(ROOT, "README.md")).text();
    const start = readme.indexOf("| setting | default | meaning |");
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf("\n\n", start);
    expect(readme.slice(start, end)).toBe(settingsMarkdownTable());
  });

  test("every setting parses from its flag and from its variable, and refuses a value out of bounds", () => {
    for (const setting of SETTING_LIST) {
      if (setting.kind !== SettingKind.INTEGER) continue;
      const value = String(Math.max(setting.min, Math.min(setting.max, 1)));
      const env: Record<string, string> = { GAVEL_STORE: "memory", [setting.env]: value };
      const fromFlag: Record<string, string> = { GAVEL_STORE: "memory" };
      // Settings tied to others need their partners to stay valid.
      if (setting.env === "GAVEL_WORKERS") continue;
      if (setting.env === "GAVEL_QUEUE") env.GAVEL_BATCH = fromFlag.GAVEL_BATCH = "1";
      if (setting.env === "GAVEL_PORT") env.GAVEL_HTTP_PORT = fromFlag.GAVEL_HTTP_PORT = "0";
      if (setting.env === "GAVEL_HTTP_PORT") env.GAVEL_PORT = fromFlag.GAVEL_PORT = "0";
      const a = loadConfig(env) as unknown as Record<string, unknown>;
      const b = loadConfig(fromFlag, [flagOf(setting.env), value]) as unknown as Record<string, unknown>;
      expect({ env: setting.env, value: a[setting.name] }).toEqual({ env: setting.env, value: Number(value) });
      expect({ env: setting.env, value: b[setting.name] }).toEqual({ env: setting.env, value: Number(value) });
      expect(() => loadConfig({ [setting.env]: String(setting.max + 1) })).toThrow(`${setting.env}:`);
    }
  });

  test("choices are checked against the table", () => {
    expect(() => loadConfig({ GAVEL_AUTH: "basic" })).toThrow(ConfigError);
    expect(() => loadConfig({ GAVEL_AUTH: "basic" })).toThrow("GAVEL_AUTH: must be off, jwt");
    expect(() => loadConfig({ GAVEL_REDIS_FEED: "some" })).toThrow("GAVEL_REDIS_FEED: must be all, subscribed");
  });
});

describe("unknown settings", () => {
  test("a misspelt variable is named with the closest setting; internal variables are not", () => {
    expect(unknownSettingWarnings({ GAVEL_HTTPPORT: "27441", GAVEL_WORKER_INDEX: "0", PATH: "/bin", GAVEL_PORT: "1" })).toEqual([
      "unknown setting GAVEL_HTTPPORT is ignored (did you mean GAVEL_HTTP_PORT?)",
    ]);
    expect(unknownSettingWarnings({ GAVEL_SOMETHING_ELSE_ENTIRELY: "1" })).toEqual(["unknown setting GAVEL_SOMETHING_ELSE_ENTIRELY is ignored"]);
  });

  test("a misspelt flag stops start-up naming the closest flag", () => {
    expect(() => loadConfig({}, ["--http-prot", "1"])).toThrow("--http-prot: unknown setting (did you mean --http-port?)");
  });

  test("closest and editDistance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(closest("GAVEL_QUEU", ["GAVEL_QUEUE", "GAVEL_BATCH"])).toBe("GAVEL_QUEUE");
    expect(closest("NOTHING_LIKE_IT", ["GAVEL_QUEUE"])).toBeNull();
  });

  test("the server warns about GAVEL_HTTPPORT at start-up and still starts", async () => {
    const gavel = await spawnGavel({ GAVEL_STORE: "memory", GAVEL_HTTPPORT: "27441" });
    try {
      expect(gavel.output()).toContain("gavel: warning: unknown setting GAVEL_HTTPPORT is ignored (did you mean GAVEL_HTTP_PORT?)");
    } finally {
      await gavel.kill("SIGTERM");
    }
  });

  test("the server process refuses an unknown flag with exit 2", async () => {
    const { code, output } = await runGavelExpectingFailure({ GAVEL_STORE: "memory" }, ["--prot", "7400"]);
    expect(code).toBe(2);
    expect(output).toContain("--prot: unknown setting (did you mean --port?)");
  });
});

describe("--help and --version", () => {
  test("`bun run start -- --help` lists every setting with its flag and default, exit 0", async () => {
    const { code, stdout } = await runStart(["--help"]);
    expect(code).toBe(0);
    for (const setting of SETTING_LIST) {
      expect(stdout).toContain(`${setting.env}, ${flagOf(setting.env)} <`);
    }
    expect(stdout).toContain("default: 7400");
  });

  test("`bun run start -- --version` prints the package version, exit 0", async () => {
    const { code, stdout } = await runStart(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`gavel ${packageJson.version}`);
  });
});
