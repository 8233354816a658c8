// The settings as start-up logs them: every setting by its variable name, secrets never shown
// (a password in REDIS_URL is replaced by redact(); a token or a secret by REDACTED).

import type { Config } from "../config.ts";
import { ADMIN_PORT_OFF, SETTING_LIST } from "../config/settings.ts";
import { REDACTED, redact } from "./redact.ts";

/** Settings whose value Config keeps in another form: what the log shows for each. */
function special(config: Config, name: string): string | number | undefined {
  switch (name) {
    case "store":
      return config.store;
    case "auth":
      return config.auth === null ? "off" : `jwt (${config.auth.algorithm})`;
    case "jwtSecret":
    case "jwtPublicKey":
      return config.auth === null ? "" : REDACTED;
    case "tlsCert":
    case "tlsKey":
      return config.tls === null ? "" : "set";
    case "adminPort":
      return config.adminPort === ADMIN_PORT_OFF ? "" : config.adminPort;
    default:
      return undefined;
  }
}

/**
 * @example
 * settingsForLog(config); // { GAVEL_HOST: "127.0.0.1", ..., REDIS_URL: "redis://:***@cache:6379", GAVEL_ADMIN_TOKEN: "***" }
 */
export function settingsForLog(config: Config): Record<string, string | number> {
  const values = config as unknown as Record<string, unknown>;
  const fields: Record<string, string | number> = {};
  for (const setting of SETTING_LIST) {
    const shown = special(config, setting.name) ?? (values[setting.name] as string | number);
    if (setting.env === "REDIS_URL") fields[setting.env] = redact(String(shown));
    else if (setting.secret === true) fields[setting.env] = shown === "" ? "" : REDACTED;
    else fields[setting.env] = shown;
  }
  return fields;
}
