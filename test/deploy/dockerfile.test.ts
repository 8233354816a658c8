// deploy/Dockerfile, checked without a Docker engine (none here): the pinned official Bun base,
// a non-root USER, tini as an exec-form ENTRYPOINT, an exec-form CMD running src/main.ts, the
// data volume and ports, and a HEALTHCHECK that, run here, tells a live server from none.

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { closedPort } from "../cli/cli-runner.ts";
import { startTestServer } from "../support/server.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const REPO_ROOT = join(import.meta.dir, "../..");
const text = await Bun.file(join(REPO_ROOT, "deploy/Dockerfile")).text();

/** The instructions, continuation lines joined, comments dropped: [KEYWORD, rest]. */
const instructions: [string, string][] = text
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"))
  .map((line) => {
    const space = line.indexOf(" ");
    return [line.slice(0, space).toUpperCase(), line.slice(space + 1).trim()];
  });
const all = (keyword: string) => instructions.filter(([k]) => k === keyword).map(([, rest]) => rest);
const last = (keyword: string) => all(keyword).at(-1);
const indexOf = (keyword: string) => instructions.findLastIndex(([k]) => k === keyword);

/** An exec-form argument list (a JSON array), or null for shell form. */
function execForm(rest: string): string[] | null {
  try {
    const parsed = JSON.parse(rest) as unknown;
    return Array.isArray(parsed) && parsed.every((a) => typeof a === "string") ? parsed : null;
  } catch {
    return null;
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("deploy/Dockerfile", () => {
  test("the official Bun image, pinned to a 1.x tag", () => {
    expect(all("FROM")).toHaveLength(1);
    expect(all("FROM")[0]).toMatch(/^oven\/bun:1\.\d+\.\d+(-[a-z]+)?$/);
  });

  test("runs as a non-root user, set before the entrypoint", () => {
    const user = last("USER");
    expect(user).toBeDefined();
    expect(["root", "0", "0:0", "root:root"]).not.toContain(user!);
    expect(indexOf("USER")).toBeLessThan(indexOf("CMD"));
    expect(all("RUN").join(" ")).toContain(`useradd`);
  });

  test("tini is the exec-form ENTRYPOINT, and CMD is exec form: bun run src/main.ts", () => {
    const entrypoint = execForm(last("ENTRYPOINT")!);
    expect(entrypoint).not.toBeNull();
    expect(entrypoint![0]).toMatch(/tini$/);
    expect(all("RUN").join(" ")).toContain("apt-get install -y --no-install-recommends tini");
    expect(execForm(last("CMD")!)).toEqual(["bun", "run", "src/main.ts"]);
  });

  test("production install from the lockfile, data volume, settings, ports", () => {
    expect(all("RUN").join(" ")).toContain("bun install --frozen-lockfile --production");
    const env = all("ENV").join(" ");
    expect(env).toContain("GAVEL_DB=/data/gavel.db");
    expect(env).toContain("GAVEL_HOST=0.0.0.0");
    expect(all("VOLUME").join(" ")).toContain("/data");
    expect(all("EXPOSE").join(" ").split(/\s+/).sort()).toEqual(["7400", "7401"]);
    // Everything it copies is in the repository.
    for (const copy of all("COPY")) {
      for (const source of copy.split(/\s+/).slice(0, -1)) expect(existsSync(join(REPO_ROOT, source)), source).toBe(true);
    }
  });

  test("the HEALTHCHECK asks /healthz: passes against a running server, fails without one", async () => {
    const healthcheck = last("HEALTHCHECK")!;
    const command = execForm(healthcheck.slice(healthcheck.indexOf("CMD ") + "CMD ".length));
    expect(command).not.toBeNull();
    expect(command!.join(" ")).toContain("/healthz");
    const server = await startTestServer({ store: "memory" });
    cleanups.push(() => server.stop());
    const run = (port: number) => Bun.spawn(command!, { env: { ...process.env, GAVEL_HTTP_PORT: String(port) }, stdout: "ignore", stderr: "ignore" }).exited;
    expect(await run(Number(new URL(server.httpUrl).port))).toBe(0);
    expect(await run(closedPort())).toBe(1);
  });
});
