// Runs pinger.ts as a process of its own and collects its round trips.

import { join } from "node:path";

/** How long the pinger may take to connect and start. */
const START_TIMEOUT_MS = 10_000;

export class Pinger {
  private constructor(private readonly child: Bun.Subprocess<"pipe", "pipe", "pipe">) {}

  /** Starts pinging `port`; resolves once the first PING is about to go out. */
  static async start(port: number): Promise<Pinger> {
    const child = Bun.spawn(["bun", "run", join(import.meta.dir, "pinger.ts"), String(port)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const reader = child.stderr.getReader();
    const deadline = Date.now() + START_TIMEOUT_MS;
    let said = "";
    while (!said.includes("pinging")) {
      if (Date.now() > deadline) throw new Error(`the pinger did not start: ${said}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the pinger exited: ${said}`);
      said += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return new Pinger(child);
  }

  /** Stops it; every round trip it measured, ms. */
  async stop(): Promise<number[]> {
    this.child.stdin.write("stop\n");
    await this.child.stdin.end();
    const out = await new Response(this.child.stdout).text();
    await this.child.exited;
    return JSON.parse(out) as number[];
  }
}
