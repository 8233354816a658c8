// What the TCP and WebSocket stuck readers share: a Python process that subscribes and then
// reads nothing until told "go", then prints one JSON line describing what it received.

/** A SUBSCRIBE frame (req 1, no replay) as hex, for the Python scripts' argv. */
export function subscribeFrameHex(auction: number): string {
  const frame = Buffer.alloc(14);
  frame.writeUInt8(0x04, 0);
  frame.writeUInt8(12, 1);
  frame.writeUInt32BE(1, 2);
  frame.writeUInt32BE(auction, 6);
  frame.writeUInt32BE(0xffffffff, 10);
  return frame.toString("hex");
}

export interface PythonStuckReader<Report> {
  /** Tells the process to read what the server left it, and returns its report. */
  report(): Promise<Report>;
  stop(): void;
}

/** Runs `script` with `args`; resolves once it printed "subscribed". `what` names it in errors. */
export async function startPythonStuckReader<Report>(what: string, script: string, args: string[]): Promise<PythonStuckReader<Report>> {
  const proc = Bun.spawn(["python3", "-c", script, ...args], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const readLine = async () => {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${what} ended early: ${text}`);
      text += decoder.decode(value);
    }
    const line = text.slice(0, text.indexOf("\n"));
    text = text.slice(line.length + 1);
    return line;
  };
  if ((await readLine()) !== "subscribed") throw new Error(`${what} did not start`);
  return {
    async report() {
      proc.stdin.write("go\n");
      await proc.stdin.flush();
      return JSON.parse(await readLine()) as Report;
    },
    stop: () => proc.kill("SIGKILL"),
  };
}
