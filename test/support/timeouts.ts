import { setDefaultTimeout } from "bun:test";

/** What a test may take: servers, redis-server processes and browsers on a shared 2-core machine. */
export const SLOW_TEST_MS = 60_000;

/**
 * Raises Bun's 5 s default timeout for the calling test file. Call it at the top of each file:
 * in Bun 1.4.5 `setDefaultTimeout` applies to the file whose body calls it, so neither a preload
 * nor an imported module's body (evaluated once) covers every file, and bunfig.toml has no
 * timeout key.
 */
export function allowSlowTests(): void {
  setDefaultTimeout(SLOW_TEST_MS);
}
