// The one error the settings raise at start-up; main.ts prints it and exits 2.

/** A bad setting: the message names it. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}
