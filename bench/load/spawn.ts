// Starts the processes a one-command benchmark measures: a Gavel server (`bun run src/main.ts`)
// on free ports with a throwaway database, and, for the Redis store without --redis-url, a
// throwaway redis-server. Both are stopped at the end of the run.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const MAIN = join(import.meta.dir, "../../src/main.ts");
/** `--spawn-server trivial`: the answer-only ceiling, bench/trivial-responder.ts. */
const TRIVIAL = join(import.meta.dir, "../trivial-responder.ts");
const LOOPBACK = "127.0.0.1";
/** `gavel: listening on 127.0.0.1:<port> (bids, TCP) and http://127.0.0.1:<httpPort> (admin); ...` */
const STARTUP_LINE = /listening on ([^\s:]+):(\d+) .*http:\/\/[^\s:]+:(\d+)/;
const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const POLL_MS = 20;
/** Output kept for error messages: the start and the most recent end. */
const MAX_KEPT_OUTPUT = 16_384;

export type SpawnStore = "memory" | "sqlite" | "redis" | "trivial";

export interface SpawnedProcess {
  pid: number;
  /** What the process printed (start-up and errors), bounded. */
  output(): string;
  stop(): Promise<void>;
}

export interface SpawnedServer extends SpawnedProcess {
  host: string;
  port: number;
  httpPort: number;
}

/** Every process started here and not yet stopped, with its temp dir, for `stopAllSpawned`. */
const live = new Map<Subprocess, string>();

/** Kills whatever this module started and has not stopped (for a CLI interrupted by a signal). */
export function stopAllSpawned(): void {
  for (const [proc, dir] of live) {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}

/** Stops a process politely, then firmly. */
async function terminate(proc: Subprocess): Promise<void> {
  live.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await proc.exited;
  clearTimeout(timer);
}

/** Collects a process's output into a bounded string (an unread pipe would stall the process). */
function collect(streams: ReadableStream<Uint8Array>[]): () => string {
  let text = "";
  const decoder = new TextDecoder();
  for (const stream of streams) {
    void (async () => {
      for await (const chunk of stream) {
        text += decoder.decode(chunk);
        if (text.length > MAX_KEPT_OUTPUT) text = text.slice(0, MAX_KEPT_OUTPUT / 2) + "\n...\n" + text.slice(-MAX_KEPT_OUTPUT / 2);
      }
    })();
  }
  return () => text;
}

/** Starts `bun run src/main.ts` with this store on free ports; resolves once it is listening. */
export async function spawnServer(store: SpawnStore, redisUrl?: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  const dir = mkdtempSync(join(tmpdir(), "gavel-load-"));
  const proc = Bun.spawn([process.execPath, "run", store === "trivial" ? TRIVIAL : MAIN], {
    env: {
      ...process.env,
      GAVEL_STORE: store,
      GAVEL_HOST: LOOPBACK,
      GAVEL_PORT: "0",
      GAVEL_HTTP_PORT: "0",
      GAVEL_DB: join(dir, "gavel.db"),
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  live.set(proc, dir);
  const output = collect([proc.stdout, proc.stderr]);
  const stop = async () => {
    await terminate(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let match: RegExpExecArray | null;
  while ((match = STARTUP_LINE.exec(output())) === null) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the ${store} server did not start (exit ${proc.exitCode}):\n${output()}`);
    }
    await Bun.sleep(POLL_MS);
  }
  return { pid: proc.pid, host: match[1]!, port: Number(match[2]), httpPort: Number(match[3]), output, stop };
}

/** A port the kernel just handed out; free again once the probe closes. */
function freePort(): number {
  const probe = Bun.listen({ hostname: LOOPBACK, port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export interface SpawnedRedis extends SpawnedProcess {
  url: string;
}

/** Starts a throwaway redis-server (no persistence) on a free port; resolves once it answers PING. */
export async function spawnRedis(): Promise<SpawnedRedis> {
  const binary = Bun.which("redis-server");
  if (binary === null) throw new Error("redis-server is not on the PATH (give --redis-url, or install redis-server)");
  const dir = mkdtempSync(join(tmpdir(), "gavel-load-redis-"));
  const port = freePort();
  const proc = Bun.spawn(
    [binary, "--port", String(port), "--bind", LOOPBACK, "--dir", dir, "--save", "", "--appendonly", "no"],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  live.set(proc, dir);
  const output = collect([proc.stdout, proc.stderr]);
  const stop = async () => {
    await terminate(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while ((await redisInfo(LOOPBACK, port)) === null) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}:\n${output()}`);
    }
    await Bun.sleep(POLL_MS);
  }
  return { pid: proc.pid, url: `redis://${LOOPBACK}:${port}`, output, stop };
}

const INFO_TIMEOUT_MS = 1000;

/** `INFO server` of the Redis at host:port as text, or null when it does not answer. */
async function redisInfo(host: string, port: number): Promise<string | null> {
  const { promise, resolve } = Promise.withResolvers<string | null>();
  let reply = "";
  const timer = setTimeout(() => resolve(null), INFO_TIMEOUT_MS);
  try {
    const socket = await Bun.connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          s.write("INFO server\r\n");
        },
        data(_s, chunk) {
          reply += chunk.toString();
          // A bulk string: $<len>\r\n<body>\r\n
          const header = /^\$(\d+)\r\n/.exec(reply);
          if (header && reply.length >= header[0].length + Number(header[1])) resolve(reply.slice(header[0].length));
          else if (reply.startsWith("-")) resolve(null);
        },
        close() {
          resolve(null);
        },
        error() {
          resolve(null);
        },
      },
    });
    const info = await promise;
    socket.end();
    return info;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** The pid of the Redis at this URL when it runs on this machine (from INFO), else null. */
export async function localRedisPid(url: string): Promise<number | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const host = parsed.hostname || LOOPBACK;
  if (host !== "localhost" && host !== LOOPBACK && host !== "::1") return null;
  const info = await redisInfo(host === "localhost" ? LOOPBACK : host, Number(parsed.port || 6379));
  const match = info === null ? null : /process_id:(\d+)/.exec(info);
  return match ? Number(match[1]) : null;
}
