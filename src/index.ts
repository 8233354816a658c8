// The package's public surface: the server factory, its configuration, and the client SDK.

export { startServer, type GavelServer } from "./server.ts";
export { loadConfig, ConfigError, type Config } from "./config.ts";
export * from "./client/index.ts";
export { Status, Phase, ErrorCode, FrameType } from "./protocol/constants.ts";
