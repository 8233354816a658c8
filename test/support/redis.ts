// Starts a real, throwaway redis-server for tests. Tests never skip: without redis-server on the
// PATH they fail with a clear error.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const LOOPBACK = "127.0.0.1";
/** How long a fresh redis-server may take to answer PING on a busy 2-core machine. */
const START_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 25;
const PING_TIMEOUT_MS = 500;
/** A graceful shutdown (SIGTERM) that takes longer than this is finished with SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;

export interface RedisOptions {
  /** AOF with `appendfsync always`, in the server's temp dir: data survives kill() + restart(). */
  appendonly?: boolean;
  /** Extra redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  args?: string[];
  /** `--requirepass`: clients must AUTH with it; `url` then carries it (`redis://:<password>@`). */
  password?: string;
}

export interface RedisHandle {
  port: number;
  /** redis://127.0.0.1:<port>, or redis://:<password>@127.0.0.1:<port> with a password */
  url: string;
  /** Shuts the server down (SIGTERM) and removes its temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash; the temp dir stays so restart() finds its AOF. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and dir (after kill()), and waits for PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing, like a hung host. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** The server's pid while it runs (for CPU figures), else null. */
  pid(): number | null;
}

/** Every server still running, killed if the test process exits without stopping them. */
const running = new Set<Subprocess>();
process.on("exit", () => {
  for (const proc of running) proc.kill("SIGKILL");
});

/** Spawns redis-server on a free loopback port and resolves once it answers PING. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const binary = Bun.which("redis-server");
  if (binary === null) {
    throw new Error("redis-server is not on the PATH: the Redis tests need it (apt-get install redis-server)");
  }
  const port = freePort();
  const dir = mkdtempSync(join(tmpdir(), "gavel-redis-"));
  const persistence = opts.appendonly
    ? ["--appendonly", "yes", "--appendfsync", "always"]
    : ["--appendonly", "no"];
  const argv = [
    binary,
    "--port", String(port),
    "--bind", LOOPBACK,
    "--dir", dir,
    "--logfile", "redis.log",
    "--save", "",
    ...persistence,
    ...(opts.password === undefined ? [] : ["--requirepass", opts.password]),
    ...(opts.args ?? []),
  ];

  let proc: Subprocess | null = null;
  const launch = async () => {
    // Output goes to the log file: an unread pipe would fill and stall the server.
    proc = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    running.add(proc);
    await waitForPing(port, proc, dir, opts.password);
  };
  const end = async (signal: "SIGTERM" | "SIGKILL") => {
    const current: Subprocess | null = proc;
    if (current === null) return;
    proc = null;
    current.kill(signal);
    // A paused server handles SIGTERM only once it runs again.
    if (signal === "SIGTERM") current.kill("SIGCONT");
    const timer = setTimeout(() => current.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await current.exited;
    clearTimeout(timer);
    running.delete(current);
  };

  await launch();
  return {
    port,
    url: opts.password === undefined ? `redis://${LOOPBACK}:${port}` : `redis://:${encodeURIComponent(opts.password)}@${LOOPBACK}:${port}`,
    async stop() {
      await end("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
    kill: () => end("SIGKILL"),
    async restart() {
      await end("SIGKILL");
      await launch();
    },
    pause() {
      (proc as Subprocess | null)?.kill("SIGSTOP");
    },
    resume() {
      (proc as Subprocess | null)?.kill("SIGCONT");
    },
    pid: () => (proc as Subprocess | null)?.pid ?? null,
  };
}

/** A port the kernel just handed out; free again once the probe listener closes. */
function freePort(): number {
  const probe = Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

async function waitForPing(port: number, proc: Subprocess, dir: string, password?: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server exited at start-up (port ${port}):\n${readLog(dir)}`);
    }
    if (await ping(port, password)) return;
    await Bun.sleep(PING_INTERVAL_MS);
  }
  proc.kill("SIGKILL");
  throw new Error(`redis-server did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms:\n${readLog(dir)}`);
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, "redis.log"), "utf8");
  } catch {
    return "(no log)";
  }
}

/** A RESP command (an array of bulk strings): safe for any bytes, unlike an inline command. */
function resp(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join("")}`;
}

/** True when the server on `port` answers PING (after AUTH, with a password) with +PONG. */
async function ping(port: number, password?: string): Promise<boolean> {
  const request = (password === undefined ? "" : resp("AUTH", password)) + resp("PING");
  const replies = password === undefined ? 1 : 2;
  const { promise, resolve } = Promise.withResolvers<boolean>();
  let reply = "";
  const timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  try {
    const socket = await Bun.connect({
      hostname: LOOPBACK,
      port,
      socket: {
        open(s) {
          s.write(request);
        },
        data(s, chunk) {
          reply += chunk.toString();
          if (reply.split("\r\n").length > replies) {
            resolve(reply.endsWith("+PONG\r\n"));
            s.end();
          }
        },
        close() {
          resolve(false);
        },
        error() {
          resolve(false);
        },
      },
    });
    const ok = await promise;
    socket.end();
    return ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
