// Runs the `gavel` CLI as users do: a separate process (`bun run src/cli/main.ts ...`), its exit
// code, stdout and stderr collected.

import { join } from "node:path";

export const CLI_MAIN = join(import.meta.dir, "../../src/cli/main.ts");
export const REPO_ROOT = join(import.meta.dir, "../..");
/** A CLI run that takes longer is stuck: killed, and the test fails on its output. */
const RUN_TIMEOUT_MS = 30_000;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as one JSON document. */
  json<T = Record<string, unknown>>(): T;
  /** stdout as one JSON document per line. */
  jsonLines<T = Record<string, unknown>>(): T[];
}

/** The environment without an admin token of the caller's, so each test says what it wants. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "GAVEL_ADMIN_TOKEN" && key !== "GAVEL_DB") env[key] = value;
  return { ...env, ...extra };
}

/** Runs `command` (default: bun on the CLI's main.ts with `args`) from the repo root. */
export async function runCli(args: string[], options: { env?: Record<string, string>; command?: string[] } = {}): Promise<CliRun> {
  const proc = Bun.spawn([...(options.command ?? ["bun", "run", CLI_MAIN]), ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(options.env ?? {}),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_TIMEOUT_MS);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return {
    code,
    stdout,
    stderr,
    json<T>() {
      try {
        return JSON.parse(stdout) as T;
      } catch {
        throw new Error(`not one JSON document (exit ${code}):\n${stdout}\n${stderr}`);
      }
    },
    jsonLines<T>() {
      return stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as T);
    },
  };
}

/** A CLI bound to one server: `--http` and `--server` filled in. */
export function cliFor(server: { httpUrl: string; port: number }, env: Record<string, string> = {}) {
  return (...args: string[]) => runCli(["--http", server.httpUrl, "--server", `127.0.0.1:${server.port}`, ...args], { env });
}

/** What a failed expectation should show: the whole run. */
export function show(run: CliRun): string {
  return `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
}

/** A loopback port nothing listens on (bound, then released). */
export function closedPort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

/** A CLI process still running (watch): its output as it comes. */
export interface RunningCli {
  /** Complete stdout lines so far. */
  readonly lines: string[];
  stderr(): string;
  /** Resolves with the first line (present or coming) that matches; rejects after `timeoutMs`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number>;
  kill(): void;
}

const WAIT_LINE_MS = 20_000;
const POLL_MS = 20;

export function startCli(args: string[], options: { env?: Record<string, string>; command?: string[] } = {}): RunningCli {
  const proc = Bun.spawn([...(options.command ?? ["bun", "run", CLI_MAIN]), ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv(options.env ?? {}),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  let partial = "";
  let errors = "";
  const decoder = new TextDecoder();
  const out = (async () => {
    for await (const chunk of proc.stdout) {
      partial += decoder.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop()!;
      lines.push(...parts);
    }
  })();
  void (async () => {
    for await (const chunk of proc.stderr) errors += new TextDecoder().decode(chunk);
  })();
  const timer = setTimeout(() => proc.kill("SIGKILL"), RUN_TIMEOUT_MS * 2);
  const exited = proc.exited.then(async (code) => {
    clearTimeout(timer);
    await out;
    if (partial !== "") lines.push(partial);
    return code;
  });
  return {
    lines,
    stderr: () => errors,
    async waitForLine(match, timeoutMs = WAIT_LINE_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found !== undefined) return found;
        if (proc.exitCode !== null || Date.now() > deadline) {
          throw new Error(`no such line (exit ${proc.exitCode}):\n${lines.join("\n")}\n${errors}`);
        }
        await Bun.sleep(POLL_MS);
      }
    },
    exited,
    kill: () => proc.kill("SIGKILL"),
  };
}
