// REDIS_URL's seeds: several comma-separated URLs for a Redis Cluster, later ones sharing the
// first's scheme and credentials when they give none.

import { describe, expect, test } from "bun:test";
import { parseSeeds } from "../../src/store/redis-connection.ts";

describe("parseSeeds", () => {
  test("one URL: host, port, credentials, TLS and db", () => {
    expect(parseSeeds("rediss://app:s%40cret@redis.example:6380/2")).toEqual([
      { host: "redis.example", port: 6380, username: "app", password: "s@cret", tls: true, db: 2 },
    ]);
    expect(parseSeeds("redis://10.0.0.1")).toEqual([{ host: "10.0.0.1", port: 6379, tls: false, db: 0 }]);
  });

  test("credentials and db as query parameters, as ioredis reads them", () => {
    expect(parseSeeds("redis://127.0.0.1:6380/?password=s%40cret&db=3")).toEqual([
      { host: "127.0.0.1", port: 6380, password: "s@cret", tls: false, db: 3 },
    ]);
    expect(parseSeeds("redis://u:p@127.0.0.1:6380/1?username=app&password=q")).toEqual([
      { host: "127.0.0.1", port: 6380, username: "app", password: "q", tls: false, db: 1 },
    ]);
  });

  test("later seeds without a scheme or credentials take the first's", () => {
    expect(parseSeeds("rediss://:pw@10.0.0.1:7000,10.0.0.2:7001, rediss://:other@10.0.0.3:7002")).toEqual([
      { host: "10.0.0.1", port: 7000, password: "pw", tls: true, db: 0 },
      { host: "10.0.0.2", port: 7001, password: "pw", tls: true, db: 0 },
      { host: "10.0.0.3", port: 7002, password: "other", tls: true, db: 0 },
    ]);
  });
});
