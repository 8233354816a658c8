// Builds the SDK as the npm package `@gavel/client` into dist/sdk/ (`bun run build:sdk`): one
// ESM file for Node >= 20 and Bun (Bun.build, target node: node: imports stay imports, no Bun
// API at module load; the TCP transport is chosen at run time), declarations from tsc
// (tsconfig.sdk.json), and a package.json with an `exports` map. Install it with
// `npm install ./dist/sdk` or `bun add ./dist/sdk`. Not part of the SDK itself.

import { rmSync } from "node:fs";
import { join } from "node:path";

/** The package's name: what users import. */
export const SDK_PACKAGE_NAME = "@gavel/client";
const ROOT = join(import.meta.dir, "..", "..");
export const SDK_OUT_DIR = join(ROOT, "dist", "sdk");
/** Where tsc writes the declarations of src/client/index.ts (rootDir src). */
const TYPES_ENTRY = "./types/client/index.d.ts";
const NODE_MIN_VERSION = ">=20";

async function build(): Promise<void> {
  rmSync(SDK_OUT_DIR, { recursive: true, force: true });
  const bundle = await Bun.build({
    entrypoints: [join(ROOT, "src", "client", "index.ts")],
    outdir: SDK_OUT_DIR,
    naming: "index.js",
    target: "node",
    format: "esm",
  });
  if (!bundle.success) throw new AggregateError(bundle.logs, "the SDK did not bundle");

  const tsc = Bun.spawnSync(["bunx", "tsc", "-p", join(ROOT, "tsconfig.sdk.json")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (tsc.exitCode !== 0) throw new Error(`tsc (declarations) exited with ${tsc.exitCode}`);

  const root = (await Bun.file(join(ROOT, "package.json")).json()) as { version: string; description?: string };
  const manifest = {
    name: SDK_PACKAGE_NAME,
    version: root.version,
    description: "TypeScript client for the Gavel auction bid server (binary protocol over TCP, TLS or WebSocket), for Node and Bun.",
    type: "module",
    main: "./index.js",
    types: TYPES_ENTRY,
    exports: { ".": { types: TYPES_ENTRY, import: "./index.js", default: "./index.js" }, "./package.json": "./package.json" },
    engines: { node: NODE_MIN_VERSION },
    sideEffects: false,
  };
  await Bun.write(join(SDK_OUT_DIR, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`built ${SDK_PACKAGE_NAME}@${root.version} in ${SDK_OUT_DIR}`);
}

if (import.meta.main) await build();
