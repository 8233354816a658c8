// deploy/gavel.service: its settings hold together, and its ExecStart, run from the repository
// root with the unit's Environment (ports and data file moved to free ones) and systemd's PATH,
// starts the server, which then stops cleanly on SIGTERM within TimeoutStopSec.

import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { SETTINGS } from "../../src/config/settings.ts";
import { closedPort } from "../cli/cli-runner.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const REPO_ROOT = join(import.meta.dir, "../..");
const UNIT = join(REPO_ROOT, "deploy/gavel.service");
/** The PATH systemd gives services (its compiled-in default). */
const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const STARTUP_LINE = /listening on [^:]+:(\d+) .* https?:\/\/[^:]+:(\d+)/;
const STARTUP_TIMEOUT_MS = 20_000;
const MS_PER_S = 1_000;

/** A unit file: each section's keys, every value of a repeated key in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current === undefined || eq < 0) throw new Error(`not a unit line: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

/** systemd time spans as this unit writes them: "15s", "2min", "500ms" or bare seconds. */
function timeSpanMs(text: string): number {
  const match = /^(\d+)(ms|s|min)?$/.exec(text);
  if (match === null) throw new Error(`time span not understood: ${text}`);
  return Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "min" ? 60 * MS_PER_S : MS_PER_S);
}

const unit = parseUnit(await Bun.file(UNIT).text());
const service = unit.get("Service")!;
const one = (key: string) => {
  const values = service.get(key);
  if (values === undefined || values.length !== 1) throw new Error(`${key}= should appear once in [Service], found ${values?.length ?? 0}`);
  return values[0]!;
};
const environment = Object.fromEntries(
  (service.get("Environment") ?? []).map((assignment) => {
    const eq = assignment.indexOf("=");
    return [assignment.slice(0, eq), assignment.slice(eq + 1)];
  }),
);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("deploy/gavel.service", () => {
  test("runs as its own user, from its directory, with an environment file", () => {
    expect(one("User")).not.toBe("root");
    expect(one("WorkingDirectory")).toStartWith("/");
    expect(one("EnvironmentFile")).toMatch(/^-?\//);
    expect(unit.get("Install")!.get("WantedBy")).toEqual(["multi-user.target"]);
  });

  test("stops in Gavel's own order and restarts on failure", () => {
    expect(["mixed", "control-group"]).toContain(one("KillMode"));
    expect(one("Restart")).toBe("on-failure");
    const grace = Number(environment.GAVEL_SHUTDOWN_GRACE_MS ?? SETTINGS.shutdownGraceMs.default);
    expect(timeSpanMs(one("TimeoutStopSec"))).toBeGreaterThan(grace);
  });

  test("hardening: no new privileges, a read-only system but for the data directory, 20000 files", () => {
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("ReadWritePaths").split(/\s+/)).toContain(dirname(environment.GAVEL_DB!));
    expect(one("LimitNOFILE")).toBe("20000");
  });

  test("ExecStart starts the server from the repository root and SIGTERM stops it cleanly", async () => {
    const argv = one("ExecStart").split(/\s+/);
    expect(argv.join(" ")).toContain("src/main.ts");
    expect(argv).not.toContain("start"); // bun itself, not the `start` script's shell
    const dir = mkdtempSync(join(tmpdir(), "gavel-unit-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const proc = Bun.spawn(argv, {
      cwd: REPO_ROOT,
      env: {
        PATH: SYSTEMD_PATH,
        HOME: dir,
        ...environment,
        GAVEL_PORT: String(closedPort()),
        GAVEL_HTTP_PORT: String(closedPort()),
        GAVEL_DB: join(dir, "gavel.db"),
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    cleanups.push(() => proc.kill("SIGKILL"));
    let output = "";
    const decoder = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) output += decoder.decode(chunk);
    };
    const collected = Promise.all([collect(proc.stdout), collect(proc.stderr)]);

    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    let match: RegExpExecArray | null;
    while ((match = STARTUP_LINE.exec(output)) === null) {
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the unit's ExecStart did not start gavel (exit ${proc.exitCode}):\n${output}`);
      await Bun.sleep(20);
    }
    expect(output).toContain(`listening on ${environment.GAVEL_HOST}:`);
    expect(output).toContain(`store sqlite (${join(dir, "gavel.db")})`);
    const health = await fetch(`http://127.0.0.1:${match[2]}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { pid: number }).pid).toBe(proc.pid);

    const signalled = Date.now();
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(timeSpanMs(one("TimeoutStopSec")));
    await collected;
    expect(output).toContain("gavel: SIGTERM: answering what was received, then stopping");
    expect(output).toContain("gavel: stopped");
  });
});
