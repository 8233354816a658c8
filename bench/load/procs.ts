// Spreads a run over several processes, so the generator is not the bottleneck it measures.
// The parent spawns `bun bench/load.ts --child` per share; they talk over Bun's IPC channel:
//
//   parent -> child  setup {spec}      child -> parent  ready
//   parent -> child  go {startEpochMs} child -> parent  progress {...} (each second), done {result}
//   parent -> child  exit
//
// The shared start time lines up the warm-up, the measured window and the rising amounts.

import { join } from "node:path";
import type { Subprocess } from "bun";
import { runShard, type ShardProgress, type ShardResult, type ShardSpec } from "./shard.ts";

/** The hidden CLI flag that turns bench/load.ts into a child. */
export const CHILD_FLAG = "--child";
const ENTRY = join(import.meta.dir, "../load.ts");
const EXIT_TIMEOUT_MS = 5_000;

type ToChild = { kind: "setup"; spec: ShardSpec } | { kind: "go"; startEpochMs: number } | { kind: "exit" };
type FromChild =
  | { kind: "ready" }
  | { kind: "progress"; progress: ShardProgress }
  | { kind: "done"; result: ShardResult }
  | { kind: "failed"; error: string };

export interface Coordinator {
  /** Every share is connected: pick the shared start time (epoch ms). */
  allReady(): number;
  progress(index: number, progress: ShardProgress): void;
}

/** Runs one share in this process (no child). */
export async function runInProcess(spec: ShardSpec, coordinator: Coordinator): Promise<ShardResult> {
  return runShard(spec, {
    ready: async () => coordinator.allReady(),
    progress: (p) => coordinator.progress(0, p),
  });
}

/** Runs each share in a child process; rejects (after killing the others) if one fails. */
export async function runInChildren(specs: ShardSpec[], coordinator: Coordinator): Promise<ShardResult[]> {
  const children: Subprocess[] = [];
  const ready = specs.map(() => Promise.withResolvers<void>());
  const done = specs.map(() => Promise.withResolvers<ShardResult>());
  const finished = specs.map(() => false);

  specs.forEach((spec, index) => {
    const child = Bun.spawn([process.execPath, ENTRY, CHILD_FLAG], {
      stdio: ["ignore", "inherit", "inherit"],
      serialization: "json",
      ipc(message: FromChild) {
        switch (message.kind) {
          case "ready":
            ready[index]!.resolve();
            break;
          case "progress":
            coordinator.progress(index, message.progress);
            break;
          case "done":
            finished[index] = true;
            done[index]!.resolve(message.result);
            break;
          case "failed":
            finished[index] = true;
            ready[index]!.reject(new Error(`load process ${index + 1}: ${message.error}`));
            done[index]!.reject(new Error(`load process ${index + 1}: ${message.error}`));
            break;
        }
      },
    });
    children.push(child);
    void child.exited.then((code) => {
      if (finished[index]) return;
      const error = new Error(`load process ${index + 1} exited (${code}) before reporting`);
      ready[index]!.reject(error);
      done[index]!.reject(error);
    });
    child.send({ kind: "setup", spec } satisfies ToChild);
  });
  // Rejections are awaited below; keep the unused ones from surfacing as unhandled.
  for (const d of [...ready, ...done]) d.promise.catch(() => {});

  try {
    await Promise.all(ready.map((r) => r.promise));
    const startEpochMs = coordinator.allReady();
    for (const child of children) child.send({ kind: "go", startEpochMs } satisfies ToChild);
    return await Promise.all(done.map((d) => d.promise));
  } finally {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.send({ kind: "exit" } satisfies ToChild);
        } catch {
          // the channel is gone: the kill below ends it
        }
      }
    }
    await Promise.all(
      children.map(async (child) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
        await child.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** The child side: waits for its share, runs it, reports, and exits when told. */
export function runChild(): void {
  const send = (message: FromChild) => process.send!(message);
  const go = Promise.withResolvers<number>();
  // A parent that dies takes its children with it.
  process.on("disconnect", () => process.exit(1));
  process.on("message", (message: ToChild) => {
    switch (message.kind) {
      case "setup":
        runShard(message.spec, {
          ready: () => {
            send({ kind: "ready" });
            return go.promise;
          },
          progress: (progress) => send({ kind: "progress", progress }),
        }).then(
          (result) => send({ kind: "done", result }),
          (error: Error) => send({ kind: "failed", error: error.message }),
        );
        break;
      case "go":
        go.resolve(message.startEpochMs);
        break;
      case "exit":
        process.exit(0);
    }
  });
}
