// TLS (GAVEL_TLS_CERT, GAVEL_TLS_KEY) end to end: the SDK over the TCP listener, fetch over the
// admin API, wss:// on the gateway, with a CA and a server certificate made by openssl at test time.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { ErrorCode, FrameType, Status } from "../../src/protocol/constants.ts";
import { GavelClient, GavelConnectionError, GavelError } from "../../src/client/index.ts";
import { encodePing } from "../../src/protocol/codec.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { openAuction } from "../support/server.ts";
import { makeTestCertificate, type TestCertificate } from "../support/tls.ts";
import { makeToken, TEST_SECRET } from "../support/jwt.ts";
import { runGavelExpectingFailure, spawnGavel } from "../support/process.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const USER = 7;

let cert: TestCertificate;
beforeAll(() => {
  cert = makeTestCertificate();
});
afterAll(() => cert.dispose());

function tlsEnv(): Record<string, string> {
  return { GAVEL_TLS_CERT: cert.certPath, GAVEL_TLS_KEY: cert.keyPath };
}

describe("a server with TLS", () => {
  let gavel: GavelFixture;
  let https: string;
  beforeAll(async () => {
    gavel = await startGavel("memory", { ...tlsEnv(), GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET });
    https = `https://127.0.0.1:${gavel.server.httpPort}`;
  });
  afterAll(() => gavel.dispose());

  async function createAuction(): Promise<number> {
    const response = await fetch(`${https}/v1/auctions`, { method: "POST", body: JSON.stringify(openAuction()), tls: { ca: cert.ca } });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: number }).id;
  }

  test("the admin API answers HTTPS to a client that trusts the certificate, and nothing to plain HTTP", async () => {
    const health = await fetch(`${https}/healthz`, { tls: { ca: cert.ca } });
    expect(health.status).toBe(200);
    expect(await createAuction()).toBeGreaterThan(0);
    const untrusted = await fetch(`${https}/healthz`).catch((error: unknown) => error);
    expect(untrusted).toBeInstanceOf(Error);
    const plain = await fetch(`http://127.0.0.1:${gavel.server.httpPort}/healthz`).catch((error: unknown) => error);
    expect(plain instanceof Response && plain.status === 200).toBe(false);
  });

  test("the SDK connects with TLS, authenticates and bids", async () => {
    const auction = await createAuction();
    const client = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca } });
    expect((await client.ping()).now).toBeGreaterThan(0);
    await client.auth(await makeToken({ sub: USER }));
    expect(await client.bid(auction, USER, 100)).toMatchObject({ status: Status.ACCEPTED, leader: USER });
    expect(await client.bid(auction, USER + 1, 200)).toMatchObject({ status: Status.FORBIDDEN });
    await client.close();
  });

  test("requests made before the handshake completes are written after it", async () => {
    const client = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca, serverName: "localhost" } });
    const pongs = await Promise.all([client.ping(), client.ping(), client.ping()]);
    expect(pongs).toHaveLength(3);
    await client.close();
  });

  test("the SDK refuses a certificate it does not trust, or one for another name", async () => {
    for (const tls of [true, { ca: cert.ca, serverName: "gavel.example" }] as const) {
      const refused = await GavelClient.connect({ port: gavel.port, tls }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GavelConnectionError);
      expect(String((refused as Error).cause)).toContain("TLS handshake failed");
    }
    const unchecked = await GavelClient.connect({ port: gavel.port, tls: { rejectUnauthorized: false } });
    expect((await unchecked.ping()).now).toBeGreaterThan(0);
    await unchecked.close();
  });

  test("a plain TCP client gets no reply frame from the TLS listener, and the server carries on", async () => {
    const received: number[] = [];
    let closed = false;
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port: gavel.port,
      socket: {
        data: (_socket, chunk) => void received.push(...chunk),
        close: () => void (closed = true),
      },
    });
    const ping = new Uint8Array(6);
    encodePing(ping, 0, 1);
    socket.write(ping);
    const deadline = Date.now() + 2_000;
    while (!closed && Date.now() < deadline) await Bun.sleep(20);
    socket.terminate();
    expect(closed).toBe(true);
    // At most a TLS alert record (content type 21), never a PONG.
    if (received.length > 0) expect(received[0]).not.toBe(FrameType.PONG);
    const client = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca } });
    expect((await client.ping()).now).toBeGreaterThan(0);
    await client.close();
  });

  test("the WebSocket gateway is served as wss://", async () => {
    // Bun's WebSocket takes TLS options beside the protocols.
    const ws = new WebSocket(`wss://127.0.0.1:${gavel.server.httpPort}/ws`, { tls: { ca: cert.ca } } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      ws.addEventListener("message", (event) => resolve(new Uint8Array(event.data as ArrayBuffer)));
      ws.addEventListener("error", () => reject(new Error("wss failed")));
    });
    await new Promise((resolve) => ws.addEventListener("open", resolve, { once: true }));
    const ping = new Uint8Array(6);
    encodePing(ping, 0, 9);
    ws.send(ping);
    expect((await reply)[0]).toBe(FrameType.PONG);
    ws.close();
  });
});

test("over TLS, a connection past the limit still hears TOO_MANY_CONNECTIONS (written after the handshake)", async () => {
  const gavel = await startGavel("memory", { ...tlsEnv(), GAVEL_MAX_CONNECTIONS: "1" });
  try {
    const first = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca } });
    await first.ping();
    const second = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca } });
    const reason = await second.closed;
    expect(reason).toBeInstanceOf(GavelError);
    expect((reason as GavelError).code).toBe(ErrorCode.TOO_MANY_CONNECTIONS);
    await first.close();
  } finally {
    await gavel.dispose();
  }
});

test("with reconnect, the SDK re-opens TLS, re-authenticates and resumes after the server drops it (here: idle)", async () => {
  const gavel = await startGavel("memory", { ...tlsEnv(), GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET, GAVEL_IDLE_MS: "300" });
  try {
    const created = await fetch(`https://127.0.0.1:${gavel.server.httpPort}/v1/auctions`, {
      method: "POST",
      body: JSON.stringify(openAuction()),
      tls: { ca: cert.ca },
    });
    const id = ((await created.json()) as { id: number }).id;
    const client = await GavelClient.connect({ port: gavel.port, tls: { ca: cert.ca }, reconnect: { delayMs: 20 } });
    await client.auth(await makeToken({ sub: USER }));
    const reconnected = new Promise<void>((resolve) => client.onReconnect(resolve));
    await reconnected; // idle for 300 ms: the server closed it, the client came back
    // The AUTH was re-sent ahead of this bid on the new connection.
    expect(await client.bid(id, USER, 100)).toMatchObject({ status: Status.ACCEPTED });
    await client.close();
  } finally {
    await gavel.dispose();
  }
});

test("a server process with TLS and AUTH says so at start-up, and outlives clients that fail the handshake", async () => {
  const node = await spawnGavel({ GAVEL_STORE: "memory", ...tlsEnv(), GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET });
  try {
    expect(node.output()).toContain("(bids, TLS)");
    expect(node.output()).toContain("https://");
    expect(node.output()).toContain("AUTH required (HS256)");
    for (let i = 0; i < 3; i++) {
      await GavelClient.connect({ port: node.port, tls: true }).catch(() => undefined);
      await fetch(`https://127.0.0.1:${node.httpPort}/healthz`).catch(() => undefined);
    }
    const client = await GavelClient.connect({ port: node.port, tls: { ca: cert.ca } });
    expect((await client.ping()).now).toBeGreaterThan(0);
    await client.close();
    expect(node.proc.exitCode).toBeNull();
  } finally {
    await node.kill("SIGKILL");
  }
});

test("the test certificate: openssl's CA signed it, for localhost and 127.0.0.1, and the server sends the chain", () => {
  const leaf = new X509Certificate(cert.cert);
  const ca = new X509Certificate(cert.ca);
  expect(ca.ca).toBe(true);
  expect(leaf.ca).toBe(false);
  expect(leaf.checkIssued(ca)).toBe(true);
  expect(leaf.verify(ca.publicKey)).toBe(true);
  expect(leaf.checkHost("localhost")).toBe("localhost");
  expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
  expect(cert.cert.endsWith(cert.ca)).toBe(true);
});

describe("TLS settings", () => {
  test("off by default; both files make it on", () => {
    expect(loadConfig({}).tls).toBeNull();
    const config = loadConfig(tlsEnv());
    expect(config.tls?.cert).toBe(cert.cert);
    expect(config.tls?.key).toBe(cert.key);
  });

  test("refused, naming the setting: one without the other, unreadable, not PEM, a key of another certificate", () => {
    const other = makeTestCertificate();
    const junk = `${other.certPath}.junk`;
    writeFileSync(junk, "not a pem\n");
    try {
      const bad: [Record<string, string>, string, string?][] = [
        [{ GAVEL_TLS_CERT: cert.certPath }, "GAVEL_TLS_KEY"],
        [{ GAVEL_TLS_KEY: cert.keyPath }, "GAVEL_TLS_CERT"],
        [{ GAVEL_TLS_CERT: "/nonexistent/cert.pem", GAVEL_TLS_KEY: cert.keyPath }, "GAVEL_TLS_CERT", "/nonexistent/cert.pem"],
        [{ GAVEL_TLS_CERT: cert.certPath, GAVEL_TLS_KEY: "/nonexistent/key.pem" }, "GAVEL_TLS_KEY", "/nonexistent/key.pem"],
        [{ GAVEL_TLS_CERT: junk, GAVEL_TLS_KEY: cert.keyPath }, "GAVEL_TLS_CERT"],
        [{ GAVEL_TLS_CERT: cert.certPath, GAVEL_TLS_KEY: junk }, "GAVEL_TLS_KEY"],
        [{ GAVEL_TLS_CERT: cert.keyPath, GAVEL_TLS_KEY: cert.keyPath }, "GAVEL_TLS_CERT"],
        [{ GAVEL_TLS_CERT: cert.certPath, GAVEL_TLS_KEY: other.keyPath }, "GAVEL_TLS_KEY"],
      ];
      for (const [env, setting, path] of bad) {
        expect(() => loadConfig(env)).toThrow(ConfigError);
        expect(() => loadConfig(env)).toThrow(`${setting}:`);
        if (path !== undefined) expect(() => loadConfig(env)).toThrow(path);
      }
    } finally {
      other.dispose();
    }
  });

  test("the server process refuses to start, naming the setting", async () => {
    const half = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_TLS_CERT: cert.certPath });
    expect(half.code).toBe(2);
    expect(half.output).toContain("GAVEL_TLS_KEY");
    const unreadable = await runGavelExpectingFailure({ GAVEL_STORE: "memory", GAVEL_TLS_CERT: "/nonexistent/cert.pem", GAVEL_TLS_KEY: cert.keyPath });
    expect(unreadable.code).toBe(2);
    expect(unreadable.output).toContain("GAVEL_TLS_CERT");
    expect(unreadable.output).toContain("/nonexistent/cert.pem");
  });
});
