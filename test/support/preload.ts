import { setDefaultTimeout } from "bun:test";

// Tests start real servers and real redis-server processes; Bun's 5 s default is too tight on a
// shared 2-core machine, and bunfig.toml has no timeout key.
setDefaultTimeout(60_000);
