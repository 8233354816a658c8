// Headless Chromium for end-to-end tests: Debian's `chromium` package driven by playwright-core
// (no downloaded browser). A missing Chromium fails the test with how to install it.

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Locator } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Screenshots and other files a test leaves for people to look at (gitignored). */
export const ARTIFACTS_DIR = join(import.meta.dir, "..", "..", "test-artifacts");

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install Debian's package (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return join(ARTIFACTS_DIR, name);
}

/** Waits until the element's text satisfies `check` (a substring or a predicate). */
export async function waitForText(locator: Locator, check: string | ((text: string) => boolean), timeoutMs = 10_000): Promise<string> {
  const test = typeof check === "string" ? (text: string) => text.includes(check) : check;
  const deadline = Date.now() + timeoutMs;
  let text = "";
  for (;;) {
    text = (await locator.textContent({ timeout: timeoutMs }).catch(() => null)) ?? "";
    if (test(text)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for text ${String(check)}; last saw ${JSON.stringify(text)}`);
    await Bun.sleep(25);
  }
}
