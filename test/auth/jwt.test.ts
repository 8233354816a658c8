// Authentication (GAVEL_AUTH=jwt) over real sockets: TCP, the SDK and the WebSocket gateway.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Frame } from "../../src/protocol/codec.ts";
import { ErrorCode, FrameType, Status } from "../../src/protocol/constants.ts";
import { GavelClient, GavelError } from "../../src/client/index.ts";
import { startGavel, type GavelFixture } from "../support/gavel.ts";
import { connectRaw, type RawClient } from "../support/raw-client.ts";
import { connectWs } from "../support/ws-client.ts";
import { openAuction } from "../support/server.ts";
import { frames } from "../support/frames.ts";
import { makeKeyPair, makeToken, nowSeconds, TEST_SECRET, unsignedToken } from "../support/jwt.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

const ALICE = 42;
const BOB = 43;

function byReq(list: Frame[]): Map<number, Frame> {
  const map = new Map<number, Frame>();
  for (const frame of list) if ("req" in frame) map.set(frame.req, frame);
  return map;
}

/** Sends, waits for `count` frames in all, returns them by req. */
async function exchange(client: RawClient, bytes: Uint8Array, count: number): Promise<Map<number, Frame>> {
  client.send(bytes);
  return byReq(await client.waitFor(count));
}

describe("authentication with an HS256 secret", () => {
  let gavel: GavelFixture;
  let auction: number;
  beforeAll(async () => {
    gavel = await startGavel("memory", { GAVEL_AUTH: "jwt", GAVEL_JWT_SECRET: TEST_SECRET });
    auction = (await gavel.createAuction(openAuction())).id;
  });
  afterAll(() => gavel.dispose());

  test("before AUTH, every request but PING gets ERROR UNAUTHENTICATED with its req; the connection stays open", async () => {
    const client = await connectRaw(gavel.port);
    const replies = await exchange(
      client,
      frames().bid(1, auction, ALICE, 100).query(2, auction).subscribe(3, auction).unsubscribe(4, auction).ping(5).bytes(),
      5,
    );
    for (const req of [1, 2, 3, 4]) {
      expect(replies.get(req)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    }
    expect(replies.get(5)).toMatchObject({ type: FrameType.PONG });
    expect(client.isClosed()).toBe(false);
    client.close();
  });

  test("after AUTH: own bids are applied, another user's get FORBIDDEN (before INVALID), own invalid ones INVALID", async () => {
    const client = await connectRaw(gavel.port);
    const token = await makeToken({ sub: ALICE });
    const replies = await exchange(
      client,
      frames()
        .auth(1, token)
        .bid(2, auction, ALICE, 500)
        .bid(3, auction, BOB, 600)
        .bid(4, auction, BOB, 0) // another user AND an invalid amount: FORBIDDEN comes first
        .bid(5, auction, 0, 700) // user 0 is not ALICE either
        .bid(6, auction, ALICE, 0)
        .bytes(),
      6,
    );
    expect(replies.get(1)).toEqual({ type: FrameType.OK, req: 1 });
    expect(replies.get(2)).toMatchObject({ type: FrameType.RESULT, status: Status.ACCEPTED, amount: 500, leader: ALICE });
    expect(replies.get(3)).toEqual({ type: FrameType.RESULT, req: 3, status: Status.FORBIDDEN, auction, amount: 0, leader: 0 });
    expect(replies.get(4)).toMatchObject({ status: Status.FORBIDDEN, amount: 0, leader: 0 });
    expect(replies.get(5)).toMatchObject({ status: Status.FORBIDDEN, amount: 0, leader: 0 });
    expect(replies.get(6)).toMatchObject({ status: Status.INVALID, amount: 0, leader: 0 });
    // A QUERY may overtake queued bids, so it goes after their replies.
    const state = await exchange(client, frames().query(7, auction).bytes(), 7);
    expect(state.get(7)).toMatchObject({ type: FrameType.STATE, amount: 500, leader: ALICE });
    client.close();
  });

  test("frames pipelined behind an AUTH are judged with the identity it establishes", async () => {
    const client = await connectRaw(gavel.port);
    const [alice, bob] = await Promise.all([makeToken({ sub: ALICE }), makeToken({ sub: BOB })]);
    const own = (await gavel.createAuction(openAuction())).id;
    // One write: bid before any AUTH, AUTH as alice, bid, re-AUTH as bob, bids as both.
    const replies = await exchange(
      client,
      frames()
        .bid(1, own, ALICE, 100)
        .auth(2, alice)
        .bid(3, own, ALICE, 200)
        .auth(4, bob)
        .bid(5, own, ALICE, 300)
        .bid(6, own, BOB, 400)
        .bytes(),
      6,
    );
    expect(replies.get(1)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect(replies.get(2)).toMatchObject({ type: FrameType.OK });
    expect(replies.get(3)).toMatchObject({ status: Status.ACCEPTED, leader: ALICE });
    expect(replies.get(4)).toMatchObject({ type: FrameType.OK });
    expect(replies.get(5)).toMatchObject({ status: Status.FORBIDDEN });
    expect(replies.get(6)).toMatchObject({ status: Status.ACCEPTED, amount: 400, leader: BOB });
    client.close();
  });

  test("a bad token gets ERROR AUTH_FAILED, the connection stays open and unauthenticated", async () => {
    const now = nowSeconds();
    const bad: [string, string][] = [
      ["wrong secret", await makeToken({ sub: ALICE }, undefined, "another-secret-of-enough-length-0123")],
      ["expired", await makeToken({ sub: ALICE, exp: now - 10 })],
      ["no exp", await makeToken({ sub: ALICE, exp: null })],
      ["no sub", await makeToken({})],
      ["sub 0", await makeToken({ sub: 0 })],
      ["sub past u32", await makeToken({ sub: 2 ** 32 })],
      ["sub not decimal", await makeToken({ sub: "alice" })],
      ["sub with a sign", await makeToken({ sub: "+42" })],
      ["sub with a leading zero", await makeToken({ sub: "042" })],
      ["not yet valid", await makeToken({ sub: ALICE, nbf: now + 3600 })],
      ["alg none", unsignedToken(ALICE)],
      ["EdDSA instead of HS256", await makeToken({ sub: ALICE }, makeKeyPair("EdDSA"))],
      ["not a JWT", "hello"],
    ];
    const client = await connectRaw(gavel.port);
    const builder = frames();
    bad.forEach(([, token], i) => builder.auth(i + 1, token));
    // A previously good identity does not survive a failed AUTH.
    const good = await makeToken({ sub: ALICE });
    const base = bad.length;
    builder.auth(base + 1, good).auth(base + 2, bad[0]![1]).bid(base + 3, auction, ALICE, 1_000_000).ping(base + 4);
    const replies = await exchange(client, builder.bytes(), base + 4);
    bad.forEach(([name], i) => {
      const reply = replies.get(i + 1);
      expect({ name, reply }).toMatchObject({ name, reply: { type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED } });
    });
    expect(replies.get(base + 1)).toMatchObject({ type: FrameType.OK });
    expect(replies.get(base + 2)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
    expect(replies.get(base + 3)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect(replies.get(base + 4)).toMatchObject({ type: FrameType.PONG });
    expect(client.isClosed()).toBe(false);
    // The reasons are told, and no token is echoed.
    const expired = replies.get(2) as Extract<Frame, { type: typeof FrameType.ERROR }>;
    expect(expired.message).toContain("expired");
    client.close();
  });

  test("a token that expires mid-connection: then only PING and AUTH pass until a new AUTH", async () => {
    const client = await connectRaw(gavel.port);
    // exp has one-second resolution: this token lives one to two seconds.
    const short = await makeToken({ sub: ALICE, exp: nowSeconds() + 1 });
    const first = await exchange(client, frames().auth(1, short).query(2, auction).bytes(), 2);
    expect(first.get(1)).toMatchObject({ type: FrameType.OK });
    expect(first.get(2)).toMatchObject({ type: FrameType.STATE });

    const expiresAt = (nowSeconds() + 1) * 1000;
    await Bun.sleep(Math.max(0, expiresAt - Date.now()) + 50);
    const after = await exchange(client, frames().query(3, auction).bid(4, auction, ALICE, 2_000_000).ping(5).bytes(), 5);
    expect(after.get(3)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect((after.get(3) as { message: string }).message).toContain("expired");
    expect(after.get(4)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect(after.get(5)).toMatchObject({ type: FrameType.PONG });

    const renewed = await exchange(client, frames().auth(6, await makeToken({ sub: ALICE })).query(7, auction).bytes(), 7);
    expect(renewed.get(6)).toMatchObject({ type: FrameType.OK });
    expect(renewed.get(7)).toMatchObject({ type: FrameType.STATE });
    client.close();
  });

  test("the SDK: auth resolves, a refused token rejects with AUTH_FAILED, requests before it with UNAUTHENTICATED", async () => {
    const client = await GavelClient.connect({ port: gavel.port });
    const early = await client.bid(auction, ALICE, 10_000_000).catch((error: unknown) => error);
    expect(early).toBeInstanceOf(GavelError);
    expect((early as GavelError).code).toBe(ErrorCode.UNAUTHENTICATED);
    const refused = await client.auth("not-a-token").catch((error: unknown) => error);
    expect((refused as GavelError).code).toBe(ErrorCode.AUTH_FAILED);
    await client.auth(await makeToken({ sub: BOB }));
    expect(await client.bid(auction, BOB, 10_000_000)).toMatchObject({ status: Status.ACCEPTED, leader: BOB });
    expect(await client.bid(auction, ALICE, 20_000_000)).toMatchObject({ status: Status.FORBIDDEN });
    await client.close();
  });

  test("the WebSocket gateway keeps the same rules, AUTH and the frames after it in order", async () => {
    const ws = await connectWs(gavel.httpUrl);
    const own = (await gavel.createAuction(openAuction())).id;
    const messages = frames()
      .bid(1, own, ALICE, 100)
      .ping(2)
      .auth(3, await makeToken({ sub: ALICE }))
      .bid(4, own, ALICE, 200)
      .bid(5, own, BOB, 300)
      .auth(6, "bad")
      .bid(7, own, ALICE, 400)
      .split();
    for (const message of messages) ws.send(message);
    const replies = byReq(await ws.waitFor(7));
    expect(replies.get(1)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect(replies.get(2)).toMatchObject({ type: FrameType.PONG });
    expect(replies.get(3)).toMatchObject({ type: FrameType.OK });
    expect(replies.get(4)).toMatchObject({ status: Status.ACCEPTED, leader: ALICE });
    expect(replies.get(5)).toMatchObject({ status: Status.FORBIDDEN, amount: 0, leader: 0 });
    expect(replies.get(6)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
    expect(replies.get(7)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.UNAUTHENTICATED });
    expect(ws.isClosed()).toBe(false);
    ws.close();
  });

  test("the admin API keeps its own bearer token, not the JWT", async () => {
    const response = await fetch(`${gavel.httpUrl}/v1/auctions/${auction}`);
    expect(response.status).toBe(200);
  });
});

describe("authentication with a public key", () => {
  for (const algorithm of ["EdDSA", "ES256"] as const) {
    test(`${algorithm}: the key's own tokens pass, others' fail (key given as a file and as PEM text)`, async () => {
      const keys = makeKeyPair(algorithm);
      const other = makeKeyPair(algorithm);
      const path = `${process.env.TMPDIR ?? "/tmp"}/gavel-jwt-${algorithm}-${process.pid}.pem`;
      await Bun.write(path, keys.publicPem);
      for (const value of [path, keys.publicPem.replaceAll("\n", "\\n")]) {
        const gavel = await startGavel("memory", { GAVEL_AUTH: "jwt", GAVEL_JWT_PUBLIC_KEY: value });
        try {
          const id = (await gavel.createAuction(openAuction())).id;
          const client = await connectRaw(gavel.port);
          const replies = await exchange(
            client,
            frames()
              .auth(1, await makeToken({ sub: ALICE }, other))
              .auth(2, await makeToken({ sub: ALICE })) // HS256 with some secret: not this key's algorithm
              .auth(3, await makeToken({ sub: ALICE }, keys))
              .bid(4, id, ALICE, 100)
              .bytes(),
            4,
          );
          expect(replies.get(1)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
          expect(replies.get(2)).toMatchObject({ type: FrameType.ERROR, code: ErrorCode.AUTH_FAILED });
          expect(replies.get(3)).toMatchObject({ type: FrameType.OK });
          expect(replies.get(4)).toMatchObject({ status: Status.ACCEPTED, leader: ALICE });
          client.close();
        } finally {
          await gavel.dispose();
        }
      }
      await Bun.file(path).delete();
    });
  }
});

describe("authentication off (the default)", () => {
  test("AUTH is answered OK whatever the token, and bids need none", async () => {
    const gavel = await startGavel("memory");
    try {
      const id = (await gavel.createAuction(openAuction())).id;
      const client = await connectRaw(gavel.port);
      const replies = await exchange(client, frames().auth(1, "anything").bid(2, id, BOB, 100).bytes(), 2);
      expect(replies.get(1)).toEqual({ type: FrameType.OK, req: 1 });
      expect(replies.get(2)).toMatchObject({ status: Status.ACCEPTED });
      client.close();
    } finally {
      await gavel.dispose();
    }
  });
});
