// The whole project typechecks (tsconfig.json: strict, noUncheckedIndexedAccess): an index that
// may be out of range must be handled, not asserted away unseen. Bun runs TypeScript without
// checking it, so this is where a type error fails the build.

import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const TSC_TIMEOUT_MS = 120_000;

test(
  "tsc --noEmit finds no error",
  async () => {
    const proc = Bun.spawn([process.execPath, "x", "tsc", "--noEmit", "-p", "."], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect({ code, errors: (out + err).trim().split("\n").filter(Boolean).slice(0, 20) }).toEqual({ code: 0, errors: [] });
  },
  TSC_TIMEOUT_MS,
);
