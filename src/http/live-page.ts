// The live page at `/` on the HTTP port: src/web/ bundled with Bun.build once per process, on
// the first request, and served from memory. No external assets: system fonts, inline icon.

import { join } from "node:path";

const WEB_DIR = join(import.meta.dir, "..", "web");

interface Asset {
  body: string;
  type: string;
}

/** Paths the page answers, filled by the first build. */
type Assets = Map<string, Asset>;

let built: Promise<Assets> | null = null;

async function build(): Promise<Assets> {
  const result = await Bun.build({
    entrypoints: [join(WEB_DIR, "app.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  const script = result.outputs.find((output) => output.kind === "entry-point");
  if (!result.success || script === undefined) throw new AggregateError(result.logs, "the live page did not build");
  const [html, css, js] = await Promise.all([Bun.file(join(WEB_DIR, "index.html")).text(), Bun.file(join(WEB_DIR, "styles.css")).text(), script.text()]);
  return new Map([
    ["/", { body: html, type: "text/html; charset=utf-8" }],
    ["/assets/app.js", { body: js, type: "text/javascript; charset=utf-8" }],
    ["/assets/app.css", { body: css, type: "text/css; charset=utf-8" }],
  ]);
}

/** The bundle, built once; a failed build is retried on the next request. */
export function livePageAssets(): Promise<Assets> {
  built ??= build().catch((error: unknown) => {
    built = null;
    throw error;
  });
  return built;
}

const PAGE_PATHS = new Set(["/", "/index.html", "/assets/app.js", "/assets/app.css"]);

/** Serves the page's files; undefined for any other path. */
export function serveLivePage(request: Request): Promise<Response> | undefined {
  const path = new URL(request.url).pathname;
  if (!PAGE_PATHS.has(path)) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return Promise.resolve(Response.json({ error: "use GET" }, { status: 405 }));
  return livePageAssets().then(
    (assets) => {
      const asset = assets.get(path === "/index.html" ? "/" : path)!;
      return new Response(request.method === "HEAD" ? null : asset.body, {
        headers: { "content-type": asset.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" },
      });
    },
    (error: unknown) => Response.json({ error: `live page unavailable: ${(error as Error).message}` }, { status: 500 }),
  );
}
