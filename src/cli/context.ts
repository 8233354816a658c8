// What every command gets: its parsed arguments, the output, and the two ways to the server
// (the admin HTTP API and the bid protocol), built from the global flags.

import { readFileSync } from "node:fs";
import { GavelClient } from "../client/index.ts";
import { SETTINGS } from "../config/settings.ts";
import { AdminApi } from "./admin-api.ts";
import { type Args, FlagKind, type FlagSpec, parseWholeNumber } from "./args.ts";
import { CliError, UnreachableError, UsageError } from "./errors.ts";
import type { Output } from "./output.ts";

/** The server binds 127.0.0.1 with its default ports unless told otherwise. */
export const DEFAULT_HTTP_URL = `http://127.0.0.1:${SETTINGS.httpPort.default}`;
export const DEFAULT_SERVER = `127.0.0.1:${SETTINGS.port.default}`;
/** The server's own setting for its admin token: one variable for both sides. */
export const ADMIN_TOKEN_ENV = SETTINGS.adminToken.env;
/** A TCP connect with no answer this long is given up (a firewall that drops packets). */
export const CONNECT_TIMEOUT_MS = 10_000;
const MAX_PORT = 65_535;
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/;

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: "http", kind: FlagKind.VALUE, placeholder: "URL", help: `admin API address (default ${DEFAULT_HTTP_URL})` },
  { name: "server", kind: FlagKind.VALUE, placeholder: "HOST:PORT", help: `bid port (default ${DEFAULT_SERVER})` },
  { name: "token", kind: FlagKind.VALUE, placeholder: "TOKEN", help: `admin bearer token (default: $${ADMIN_TOKEN_ENV})` },
  { name: "tls", kind: FlagKind.SWITCH, help: "speak TLS on the bid port (a server with GAVEL_TLS_CERT)" },
  { name: "ca", kind: FlagKind.VALUE, placeholder: "FILE", help: "PEM certificate to trust for --tls instead of the system's (implies --tls)" },
  { name: "json", kind: FlagKind.SWITCH, help: "one JSON document per result, statuses and phases by name" },
  { name: "help", kind: FlagKind.SWITCH, help: "this command's help" },
  { name: "version", kind: FlagKind.SWITCH, help: "print the version" },
];

export interface CommandContext {
  readonly args: Args;
  readonly output: Output;
  /** The environment (GAVEL_ADMIN_TOKEN, GAVEL_DB). */
  readonly env: Record<string, string | undefined>;
  /** The admin API named by --http and --token. */
  admin(): AdminApi;
  /** "host:port" of the bid port (--server). */
  readonly serverAddress: string;
  /** Connects to the bid port; an unreachable server is an UnreachableError saying what to check. */
  connect(options?: { reconnect?: boolean }): Promise<GavelClient>;
}

export function createContext(args: Args, output: Output, env: Record<string, string | undefined>): CommandContext {
  const httpUrl = parseHttpUrl(args.text("http") ?? DEFAULT_HTTP_URL);
  const serverAddress = args.text("server") ?? DEFAULT_SERVER;
  const server = parseHostPort(serverAddress);
  const token = args.text("token") ?? env[ADMIN_TOKEN_ENV] ?? "";
  const caFile = args.text("ca");
  return {
    args,
    output,
    env,
    serverAddress,
    admin: () => new AdminApi(httpUrl, token),
    async connect(options = {}) {
      const tls = caFile !== undefined ? { ca: readCa(caFile) } : args.has("tls");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS / 1000} s`)), CONNECT_TIMEOUT_MS);
      });
      try {
        return await Promise.race([GavelClient.connect({ host: server.host, port: server.port, tls, reconnect: options.reconnect ?? false }), timeout]);
      } catch (error) {
        const cause = (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message;
        throw new UnreachableError(
          `cannot connect to the bid port at ${serverAddress} (${cause}). Is the server running, and does --server ` +
            `name its bid address (the server's GAVEL_HOST and GAVEL_PORT)? With GAVEL_TLS_CERT on the server, add --tls.`,
          { cause: error },
        );
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function parseHttpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--http must be a URL such as ${DEFAULT_HTTP_URL}, not "${text}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`--http must be an http:// or https:// URL, not "${text}"`);
  return url.href.replace(/\/+$/, "");
}

/** "host:port" or "[v6]:port". */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = HOST_PORT.exec(text);
  if (match === null) throw new UsageError(`--server must be HOST:PORT such as ${DEFAULT_SERVER}, not "${text}"`);
  return { host: match[1] ?? match[2]!, port: parseWholeNumber(match[3]!, "--server's port", 1, MAX_PORT) };
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read --ca ${file}: ${(error as Error).message}`);
  }
}
