// A server's output as log messages: each JSON line (GAVEL_LOG_FORMAT=json, the format when
// stdout is not a terminal) gives its `msg`; any other line is taken as it is.

/** The messages of `output`, one per line, in order. */
export function logMessages(output: string): string[] {
  return output.split("\n").map((line) => {
    if (!line.startsWith("{")) return line;
    try {
      const parsed = JSON.parse(line) as { msg?: unknown };
      return typeof parsed.msg === "string" ? parsed.msg : line;
    } catch {
      return line;
    }
  });
}
