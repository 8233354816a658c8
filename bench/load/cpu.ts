// CPU time of other processes (the server, Redis) from /proc/<pid>/stat (Linux), so a run can
// put the generator's CPU beside theirs. Each watched process counts with its descendants
// (a server running several workers is one figure).

import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second (`getconf CLK_TCK`); 100 on every mainstream Linux. */
const DEFAULT_CLK_TCK = 100;
/** Fields of /proc/<pid>/stat after the ")" that closes the command name (0-based). */
const STAT_PPID = 1;
const STAT_UTIME = 11;
const STAT_STIME = 12;

let clockTicks: number | null = null;

function ticksPerSecond(): number {
  if (clockTicks !== null) return clockTicks;
  clockTicks = DEFAULT_CLK_TCK;
  try {
    const out = Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim();
    const n = Number(out);
    if (Number.isInteger(n) && n > 0) clockTicks = n;
  } catch {
    // no getconf: keep the default
  }
  return clockTicks;
}

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name may hold spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(fields[STAT_PPID]), ticks: Number(fields[STAT_UTIME]) + Number(fields[STAT_STIME]) };
}

/** True when /proc/<pid> exists (a live local process). */
export function processExists(pid: number): boolean {
  return readStat(pid) !== null;
}

/** CPU seconds used so far by `pid` and its live descendants; null when the process is gone. */
export function treeCpuSeconds(pid: number): number | null {
  const root = readStat(pid);
  if (root === null) return null;
  let ticks = root.ticks;
  const parents = new Map<number, number[]>();
  const stats = new Map<number, Stat>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return ticks / ticksPerSecond();
  }
  for (const entry of entries) {
    const child = Number(entry);
    if (!Number.isInteger(child) || child === pid) continue;
    const stat = readStat(child);
    if (stat === null) continue;
    stats.set(child, stat);
    const siblings = parents.get(stat.ppid);
    if (siblings) siblings.push(child);
    else parents.set(stat.ppid, [child]);
  }
  const stack = [...(parents.get(pid) ?? [])];
  while (stack.length > 0) {
    const child = stack.pop()!;
    ticks += stats.get(child)!.ticks;
    stack.push(...(parents.get(child) ?? []));
  }
  return ticks / ticksPerSecond();
}

/** A process whose CPU is reported beside the generator's. */
export interface WatchedProcess {
  label: string;
  pid: number;
}

/** CPU samples of several processes, taken at the start and end of the measured window. */
export class CpuWatch {
  private marks = new Map<number, number | null>();

  constructor(readonly processes: readonly WatchedProcess[]) {}

  mark(): void {
    this.marks.clear();
    for (const { pid } of this.processes) this.marks.set(pid, treeCpuSeconds(pid));
  }

  /** CPU seconds since `mark()` per process; null for one that was gone at either end. */
  since(): Array<WatchedProcess & { cpuSeconds: number | null }> {
    return this.processes.map((p) => {
      const before = this.marks.get(p.pid) ?? null;
      const after = treeCpuSeconds(p.pid);
      return { ...p, cpuSeconds: before === null || after === null ? null : Math.max(0, after - before) };
    });
  }
}
