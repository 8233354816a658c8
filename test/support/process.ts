// Runs Gavel as a separate process (`bun run src/main.ts`), for kill -9, signals and
// several nodes on one Redis.

import { join } from "node:path";
import type { Subprocess } from "bun";

const REPO = join(import.meta.dir, "../..");
const MAIN = join(REPO, "src/main.ts");
const STARTUP_LINE = /listening on [^:]+:(\d+) .* https?:\/\/[^:]+:(\d+)/;
const STARTUP_TIMEOUT_MS = 20_000;

export interface GavelProcess {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  port: number;
  httpPort: number;
  httpUrl: string;
  /** Everything the process printed so far. */
  output(): string;
  kill(signal?: NodeJS.Signals | number): Promise<number>;
}

/** Starts a server process with these settings (ports default to 0: any free port). */
export async function spawnGavel(env: Record<string, string>): Promise<GavelProcess> {
  const proc = Bun.spawn(["bun", "run", MAIN], {
    env: { ...process.env, GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return waitForStartup(proc);
}

export interface GavelGroup extends GavelProcess {
  /** The process group (and session) id: `bun run start` and everything it started. */
  pgid: number;
  /** Sends `signal` to the whole group (as a supervisor or `kill -- -PGID` would); no wait. */
  killGroup(signal?: NodeJS.Signals): void;
  /** Sends `signal` to the server alone (the wrapper then exits with the server's code). */
  killServer(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * Starts `bun run start` the way users run it, in its own process group (setsid), so a test
 * can kill the wrapper and the server under it at once, as kill -9 of a container or a
 * service manager does. The server itself is a child of the wrapper: once the group is killed
 * it lingers as a zombie until PID 1 reaps it, as in production.
 */
export async function spawnGavelGroup(env: Record<string, string>): Promise<GavelGroup> {
  // setsid execs in place (the spawned child is no group leader), so its pid is the group's id.
  const proc = Bun.spawn(["setsid", "bun", "run", "start"], {
    cwd: REPO,
    env: { ...process.env, GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const killGroup = (signal: NodeJS.Signals = "SIGKILL") => {
    try {
      process.kill(-proc.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error; // else: gone already
    }
  };
  const started = await waitForStartup(proc, killGroup);
  return {
    ...started,
    pgid: proc.pid,
    killGroup,
    async killServer(signal = "SIGTERM") {
      const health = (await (await fetch(`${started.httpUrl}/healthz`)).json()) as { pid: number };
      process.kill(health.pid, signal);
      return proc.exited;
    },
  };
}

async function waitForStartup(proc: Subprocess<"ignore", "pipe", "pipe">, killAll = () => proc.kill("SIGKILL")): Promise<GavelProcess> {
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void collect(proc.stdout);
  void collect(proc.stderr);

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let match: RegExpExecArray | null = null;
  while ((match = STARTUP_LINE.exec(text)) === null) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      killAll();
      throw new Error(`gavel did not start (exit ${proc.exitCode}):\n${text}`);
    }
    await Bun.sleep(20);
  }
  const port = Number(match[1]);
  const httpPort = Number(match[2]);
  return {
    proc,
    port,
    httpPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    output: () => text,
    async kill(signal = "SIGTERM") {
      proc.kill(signal);
      return proc.exited;
    },
  };
}

/** Runs the server expecting it to refuse to start; returns its exit code and output. */
export async function runGavelExpectingFailure(env: Record<string, string>, args: string[] = []) {
  const proc = Bun.spawn(["bun", "run", MAIN, ...args], {
    env: { ...process.env, GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), STARTUP_TIMEOUT_MS);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  return { code, output: stdout + stderr };
}

const REPO_ROOT = join(import.meta.dir, "../..");

export interface GavelProcessGroup {
  /** The process group's id: the pid of `bun run start`, which leads it. */
  pgid: number;
  port: number;
  httpPort: number;
  httpUrl: string;
  output(): string;
  /** Sends `signal` to every process of the group (kill(-pgid)), as systemd or a terminal does. */
  signalGroup(signal: NodeJS.Signals): void;
  /** The exit code of `bun run start`. */
  exited: Promise<number>;
  /** SIGKILL to the whole group (cleanup). */
  killGroup(): void;
}

/**
 * Starts the server as the README says, `bun run start`, in its own process group (setsid), so a
 * test can signal the whole group the way a process manager does: the wrapper and the server
 * (and, with GAVEL_WORKERS, the supervisor's workers) all get the signal.
 */
export async function spawnGavelStartGroup(env: Record<string, string>): Promise<GavelProcessGroup> {
  const setsid = Bun.which("setsid");
  if (setsid === null) throw new Error("setsid (util-linux) is not on the PATH");
  const proc = Bun.spawn([setsid, "bun", "run", "start"], {
    cwd: REPO_ROOT,
    env: { ...process.env, GAVEL_PORT: "0", GAVEL_HTTP_PORT: "0", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // setsid execs in place (the child is no group leader yet), so the pid leads the new group.
  const pgid = proc.pid;
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  const killGroup = () => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let match: RegExpExecArray | null = null;
  while ((match = STARTUP_LINE.exec(text)) === null) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      killGroup();
      throw new Error(`gavel did not start (exit ${proc.exitCode}):\n${text}`);
    }
    await Bun.sleep(20);
  }
  const port = Number(match[1]);
  const httpPort = Number(match[2]);
  return {
    pgid,
    port,
    httpPort,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    output: () => text,
    signalGroup: (signal) => process.kill(-pgid, signal),
    exited: proc.exited,
    killGroup,
  };
}
