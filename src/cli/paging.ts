// The admin API's paging: each page names the next one's path (`next`), or null at the end.

import type { AdminApi } from "./admin-api.ts";
import { CliError } from "./errors.ts";

/** The API's own bound on a page. */
export const MAX_PAGE = 500;
/**
 * `--all` stops following `next` after this many pages (over 50 million rows at the largest
 * page): a server that kept answering with a next page would otherwise grow the CLI forever.
 */
export const MAX_PAGES = 100_000;

/** Yields the page at `path`, then (with `all`) every next one. */
export async function* followPages<T extends { next: string | null }>(api: AdminApi, path: string, all: boolean): AsyncGenerator<T> {
  let next: string | null = path;
  for (let pages = 0; next !== null; pages++) {
    if (pages === MAX_PAGES) throw new CliError(`stopped after ${MAX_PAGES} pages; narrow the listing (--phase, --after)`);
    const page: T = await api.get<T>(next);
    yield page;
    next = all ? page.next : null;
  }
}
