// GavelClient against a tiny fake server built on the codec: correlation, pipelining, write
// backpressure and error paths of the client. Not a test of Gavel's server.

import { afterEach, describe, expect, spyOn, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";

import {
  type AuctionEvent,
  type AuctionSubscription,
  type ConnectOptions,
  GavelBackpressureError,
  GavelClient,
  GavelConnectionError,
  GavelError,
  GavelProtocolError,
  type PushFrame,
} from "../../src/client/index.ts";
import { FrameAssembler } from "../../src/protocol/assembler.ts";
import {
  clientFrameFit,
  decodeFrame,
  encodeClosed,
  encodeError,
  encodeOk,
  encodePong,
  encodeResult,
  encodeState,
  encodeUpdate,
  Fit,
  type Frame,
} from "../../src/protocol/codec.ts";
import {
  BID_FRAME_SIZE,
  ErrorCode,
  FrameType,
  MAX_AMOUNT,
  MAX_FRAME,
  NO_REPLAY,
  Phase,
  Status,
} from "../../src/protocol/constants.ts";
import { allowSlowTests } from "../support/timeouts.ts";

allowSlowTests();

// ---- the fake server --------------------------------------------------------------------------

const SERVER_NOW = 1_767_225_600_123;
const ENDS_AT = 1_767_225_600_000;
const GOOD_TOKEN = "good-token";
/** The fake's auction with history: seq 3, and CLOSED pushed after a SUBSCRIBE. */
const CLOSED_AUCTION = 8;
const LATEST_SEQ = 3;

interface Conn {
  assembler: FrameAssembler;
  /** Frames the server still has to write (Bun's write does not buffer). */
  queue: Uint8Array[];
}

type Override = (frame: Frame, reply: (bytes: Uint8Array) => void, socket: Socket<Conn>) => boolean;

/** Answers every request by the contract, in reverse order within each read (to exercise `req`). */
class FakeServer {
  readonly requests: Frame[] = [];
  readonly sockets: Socket<Conn>[] = [];
  /** Withhold replies to BID (to test what happens to pending requests). */
  holdBids = false;
  /** Stop reading on open, until `resume()`. */
  pauseOnOpen = false;
  /** Return true to say the frame was handled. */
  override: Override | undefined;
  /** Each auction's latest seq, for STATE and replays (default LATEST_SEQ). */
  readonly latest = new Map<number, number>();
  private readonly listener: TCPSocketListener<Conn>;

  constructor() {
    this.listener = Bun.listen<Conn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        binaryType: "uint8array",
        open: (socket) => {
          this.sockets.push(socket);
          socket.data = { assembler: new FrameAssembler((t, b, p, l) => this.onFrame(socket, t, b, p, l)), queue: [] };
          if (this.pauseOnOpen) socket.pause();
        },
        data: (socket, chunk: Uint8Array) => {
          this.groups = [];
          socket.data.assembler.push(chunk);
          // Replies of one read go out last request first; frames of one reply keep their order.
          const bytes = this.groups.reverse().flat();
          if (bytes.length > 0) this.send(socket, Buffer.concat(bytes));
        },
        drain: (socket) => this.flush(socket),
      },
    });
  }

  get port(): number {
    return this.listener.port;
  }

  resume(): void {
    for (const socket of this.sockets) socket.resume();
  }

  stop(): void {
    this.listener.stop(true);
  }

  private groups: Uint8Array[][] = [];

  private onFrame(socket: Socket<Conn>, type: number, bytes: Uint8Array, payload: number, length: number): boolean {
    const group: Uint8Array[] = [];
    this.groups.push(group);
    const reply = (frame: Uint8Array) => group.push(frame);
    const fit = clientFrameFit(type, length);
    if (fit === Fit.MALFORMED) {
      reply(frameOf((out) => encodeError(out, 0, 0, ErrorCode.MALFORMED, `payload length ${length} does not fit type ${type}`)));
      // Say it first, then close: flush what this read produced and end.
      this.send(socket, Buffer.concat(this.groups.reverse().flat()));
      this.groups = [];
      socket.end();
      return false;
    }
    if (fit === Fit.UNKNOWN_TYPE) {
      reply(frameOf((out) => encodeError(out, 0, 0, ErrorCode.UNKNOWN_TYPE, "")));
      return true;
    }
    const frame = decodeFrame(type, bytes, payload, length)!;
    this.requests.push(frame);
    if (this.override?.(frame, reply, socket)) return true;
    answer(frame, reply, this.holdBids, this.latest.get((frame as { auction?: number }).auction ?? 0) ?? LATEST_SEQ);
    return true;
  }

  send(socket: Socket<Conn>, bytes: Uint8Array): void {
    socket.data.queue.push(bytes);
    if (socket.data.queue.length === 1) this.flush(socket);
  }

  private flush(socket: Socket<Conn>): void {
    const queue = socket.data.queue;
    while (queue.length > 0) {
      const head = queue[0]!;
      const written = socket.write(head);
      if (written < 0) return;
      if (written < head.length) {
        queue[0] = head.subarray(written);
        return;
      }
      queue.shift();
    }
  }
}

function frameOf(encode: (out: Uint8Array) => number): Uint8Array {
  const out = new Uint8Array(MAX_FRAME);
  return out.slice(0, encode(out));
}

function answer(frame: Frame, reply: (bytes: Uint8Array) => void, holdBids: boolean, latest: number): void {
  switch (frame.type) {
    case FrameType.BID: {
      if (holdBids) return;
      const invalid = frame.amount < 1 || frame.amount > MAX_AMOUNT || frame.auction === 0 || frame.user === 0;
      reply(
        invalid
          ? frameOf((out) => encodeResult(out, 0, frame.req, Status.INVALID, frame.auction, 0, 0))
          : frameOf((out) => encodeResult(out, 0, frame.req, Status.ACCEPTED, frame.auction, frame.amount, frame.user)),
      );
      return;
    }
    case FrameType.QUERY:
      reply(frameOf((out) => encodeState(out, 0, frame.req, frame.auction, Phase.OPEN, LATEST_SEQ, 15_050, 42, ENDS_AT)));
      return;
    case FrameType.PING:
      reply(frameOf((out) => encodePong(out, 0, frame.req, SERVER_NOW)));
      return;
    case FrameType.AUTH:
      reply(
        frame.token === GOOD_TOKEN
          ? frameOf((out) => encodeOk(out, 0, frame.req))
          : frameOf((out) => encodeError(out, 0, frame.req, ErrorCode.AUTH_FAILED, "token rejected")),
      );
      return;
    case FrameType.SUBSCRIBE: {
      const closed = frame.auction === CLOSED_AUCTION;
      const phase = closed ? Phase.CLOSED : Phase.OPEN;
      reply(frameOf((out) => encodeState(out, 0, frame.req, frame.auction, phase, latest, 15_050, 42, ENDS_AT)));
      if (frame.since !== NO_REPLAY) {
        for (let seq = frame.since + 1; seq <= latest; seq++) {
          reply(frameOf((out) => encodeUpdate(out, 0, frame.auction, seq, 15_000 + seq, 40 + seq, ENDS_AT)));
        }
      }
      if (closed) reply(frameOf((out) => encodeClosed(out, 0, frame.auction, LATEST_SEQ, 42, 15_050)));
      return;
    }
    case FrameType.UNSUBSCRIBE:
      reply(frameOf((out) => encodeOk(out, 0, frame.req)));
      return;
    default:
      return;
  }
}

// ---- test plumbing ----------------------------------------------------------------------------

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(
  options: { maxQueuedBytes?: number; configure?: (server: FakeServer) => void; connect?: Partial<ConnectOptions> } = {},
) {
  const server = new FakeServer();
  options.configure?.(server);
  cleanups.push(() => server.stop());
  const client = await GavelClient.connect({ port: server.port, maxQueuedBytes: options.maxQueuedBytes, ...options.connect });
  cleanups.push(() => client.close());
  return { server, client };
}

/** Counts the client's socket writes and what each took. */
function spyWrites(client: GavelClient): { offered: number; taken: number }[] {
  // Under Bun the client's transport is Bun's own TCP socket (transports/bun-tcp.ts).
  const socket = (client as unknown as { transport: { socket: Socket<undefined> } }).transport.socket;
  const original = socket.write;
  const calls: { offered: number; taken: number }[] = [];
  socket.write = function (this: Socket<undefined>, data: never, offset?: number, length?: number) {
    const taken = original.call(this, data, offset, length);
    calls.push({ offered: length ?? 0, taken });
    return taken;
  } as typeof socket.write;
  return calls;
}

/** Takes `count` events from the subscription (failing after a while rather than hanging). */
async function take(subscription: AuctionSubscription, count: number): Promise<AuctionEvent[]> {
  const events: AuctionEvent[] = [];
  const deadline = Date.now() + 5_000;
  while (events.length < count) {
    const next = await Promise.race([subscription.next(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => null)]);
    if (next === null) throw new Error(`timed out after ${events.length} of ${count} events`);
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

/** Pushes frames to the client's current connection, as a server does unasked. */
function push(server: FakeServer, ...frames: Uint8Array[]): void {
  server.send(server.sockets.at(-1)!, Buffer.concat(frames));
}
const update = (auction: number, seq: number) =>
  frameOf((out) => encodeUpdate(out, 0, auction, seq, 15_000 + seq, 40 + seq, ENDS_AT));
const seqsOf = (events: AuctionEvent[]) => events.map((e) => (e.type === "state" ? `state ${e.seq}` : e.type === "update" ? e.seq : `closed ${e.seq}`));

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(2);
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

// ---- tests ------------------------------------------------------------------------------------

describe("requests and replies", () => {
  test("each request resolves with its reply's fields", async () => {
    const { client } = await setup();
    expect(await client.bid(7, 42, 15_050)).toEqual({ status: Status.ACCEPTED, auction: 7, amount: 15_050, leader: 42 });
    expect(await client.bid(7, 0, 100)).toEqual({ status: Status.INVALID, auction: 7, amount: 0, leader: 0 });
    expect(await client.query(7)).toEqual({
      auction: 7,
      phase: Phase.OPEN,
      seq: LATEST_SEQ,
      amount: 15_050,
      leader: 42,
      endsAt: ENDS_AT,
    });
    expect(await client.ping()).toEqual({ now: SERVER_NOW });
    expect(await client.auth(GOOD_TOKEN)).toBeUndefined();
    expect(await client.unsubscribe(7)).toBeUndefined();
    expect(client.inFlight).toBe(0);
  });

  test("amounts at the edges of the wire format reach the server exactly", async () => {
    const { server, client } = await setup();
    expect((await client.bid(1, 1, MAX_AMOUNT)).amount).toBe(MAX_AMOUNT);
    expect((await client.bid(0xffff_ffff, 0xffff_ffff, 1)).leader).toBe(0xffff_ffff);
    // Above 2^53-1 is sent as is and judged by the server.
    expect((await client.bid(1, 1, 2 ** 53)).status).toBe(Status.INVALID);
    expect(server.requests.map((f) => (f.type === FrameType.BID ? f.amount : -1))).toEqual([MAX_AMOUNT, 1, 2 ** 53]);
  });

  test("2000 bids in one tick: one write, all correlated although answered out of order", async () => {
    const { server, client } = await setup();
    await client.ping(); // settle the connection first
    const writes = spyWrites(client);
    const count = 2000;
    const bids = Array.from({ length: count }, (_, i) => client.bid(1 + (i % 5), 100 + i, 1_000 + i));
    expect(client.inFlight).toBe(count);
    const results = await Promise.all(bids);
    expect(writes).toEqual([{ offered: count * BID_FRAME_SIZE, taken: count * BID_FRAME_SIZE }]);
    results.forEach((result, i) => {
      expect(result).toEqual({ status: Status.ACCEPTED, auction: 1 + (i % 5), amount: 1_000 + i, leader: 100 + i });
    });
    // Sent in call order, with consecutive `req`s.
    const sent = server.requests.filter((f) => f.type === FrameType.BID);
    expect(sent.map((f) => f.req)).toEqual(Array.from({ length: count }, (_, i) => sent[0]!.req + i));
    expect(sent.map((f) => (f.type === FrameType.BID ? f.amount : 0))).toEqual(results.map((r) => r.amount));
    expect(client.inFlight).toBe(0);
  });

  test("requests in different ticks go out in different writes", async () => {
    const { client } = await setup();
    await client.ping();
    const writes = spyWrites(client);
    const first = client.ping();
    await Promise.resolve();
    await Promise.resolve();
    const second = client.ping();
    await Promise.all([first, second]);
    expect(writes.length).toBe(2);
  });

  test("req is a u32 that wraps and skips 0", async () => {
    const { server, client } = await setup();
    (client as unknown as { requests: { nextReq: number } }).requests.nextReq = 0xffff_fffe;
    await Promise.all([client.ping(), client.ping(), client.ping()]);
    expect(server.requests.map((f) => (f.type === FrameType.PING ? f.req : -1))).toEqual([0xffff_fffe, 0xffff_ffff, 1]);
  });

  test("a req still pending is not reused after wrapping", async () => {
    const { server, client } = await setup({ configure: (s) => (s.holdBids = true) });
    const held = client.bid(7, 42, 100);
    held.catch(() => {});
    await Bun.sleep(20);
    const heldReq = server.requests[0]!.type === FrameType.BID ? server.requests[0]!.req : -1;
    (client as unknown as { requests: { nextReq: number } }).requests.nextReq = heldReq;
    await client.ping();
    expect(server.requests[1]).toEqual({ type: FrameType.PING, req: heldReq + 1 });
  });

  test("arguments that do not fit the wire are refused before anything is sent", async () => {
    const { server, client } = await setup();
    expect(await rejection(client.bid(2 ** 32, 1, 1))).toBeInstanceOf(RangeError);
    expect(await rejection(client.bid(1, -1, 1))).toBeInstanceOf(RangeError);
    expect(await rejection(client.bid(1, 1, 1.5))).toBeInstanceOf(RangeError);
    expect(await rejection(client.bid(1, 1, Number.NaN))).toBeInstanceOf(RangeError);
    expect(await rejection(client.bid(1, 1, 2 ** 64))).toBeInstanceOf(RangeError);
    expect(await rejection(client.query(0.5))).toBeInstanceOf(RangeError);
    expect(await rejection(client.auth(""))).toBeInstanceOf(RangeError);
    expect(await rejection(client.auth("t".repeat(252)))).toBeInstanceOf(RangeError);
    await client.ping();
    expect(server.requests.map((f) => f.type)).toEqual([FrameType.PING]);
    expect(client.inFlight).toBe(0);
  });
});

describe("subscriptions", () => {
  test("yields the STATE, the replay and CLOSED as typed events, then ends; onPush sees the raw frames", async () => {
    const { client } = await setup();
    const pushes: PushFrame[] = [];
    const stop = client.onPush((push) => pushes.push(push));

    const live = client.subscribe(7, 1);
    expect(await live.ready).toEqual({ type: "state", auction: 7, phase: Phase.OPEN, seq: LATEST_SEQ, amount: 15_050, leader: 42, endsAt: ENDS_AT });
    expect(await take(live, 3)).toEqual([
      { type: "state", auction: 7, phase: Phase.OPEN, seq: LATEST_SEQ, amount: 15_050, leader: 42, endsAt: ENDS_AT },
      { type: "update", auction: 7, seq: 2, amount: 15_002, leader: 42, endsAt: ENDS_AT },
      { type: "update", auction: 7, seq: 3, amount: 15_003, leader: 43, endsAt: ENDS_AT },
    ]);
    expect(live.lastSeq).toBe(3);
    expect(pushes.map((p) => p.type === FrameType.UPDATE && p.seq)).toEqual([2, 3]);

    // A closed auction: STATE (CLOSED), then the closed event, and the loop ends by itself.
    const events: AuctionEvent[] = [];
    for await (const event of client.subscribe(CLOSED_AUCTION)) events.push(event);
    expect(events).toEqual([
      { type: "state", auction: CLOSED_AUCTION, phase: Phase.CLOSED, seq: LATEST_SEQ, amount: 15_050, leader: 42, endsAt: ENDS_AT },
      { type: "closed", auction: CLOSED_AUCTION, seq: LATEST_SEQ, winner: 42, amount: 15_050 },
    ]);
    stop();
    await live.close();
  });

  test("subscribe without since asks for no replay; live UPDATEs follow the state event", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7);
    await live.ready;
    expect(server.requests).toEqual([{ type: FrameType.SUBSCRIBE, req: 1, auction: 7, since: NO_REPLAY }]);
    push(server, update(7, 4), update(7, 5));
    expect(seqsOf(await take(live, 3))).toEqual([`state ${LATEST_SEQ}`, 4, 5]);
  });

  test("a seq gap makes it resubscribe with since = the last seq; every seq arrives once, in order", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7);
    await live.ready;
    // 4, 5, a duplicate, then a jump to 8 (as a conflated subscriber sees): the client asks for
    // a replay after 5, and the server's answer (STATE 9, then 6..9) fills the gap.
    server.latest.set(7, 9);
    push(server, update(7, 4), update(7, 5), update(7, 5), update(7, 8), update(7, 9));
    expect(seqsOf(await take(live, 7))).toEqual([`state ${LATEST_SEQ}`, 4, 5, 6, 7, 8, 9]);
    const subscribes = server.requests.filter((f) => f.type === FrameType.SUBSCRIBE);
    expect(subscribes.map((f) => f.type === FrameType.SUBSCRIBE && f.since)).toEqual([NO_REPLAY, 5]);
    push(server, update(7, 9), update(7, 10));
    expect(seqsOf(await take(live, 1))).toEqual([10]);
    expect(live.lastSeq).toBe(10);
    expect(live.buffered).toBe(0);
  });

  test("a CLOSED past the last seq is repaired first; the loop ends after the closed event", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7);
    await live.ready;
    push(server, frameOf((out) => encodeClosed(out, 0, 7, 5, 9, 900)));
    await Bun.sleep(50);
    expect(server.requests.at(-1)).toMatchObject({ type: FrameType.SUBSCRIBE, since: LATEST_SEQ });
    push(server, update(7, 4), update(7, 5), frameOf((out) => encodeClosed(out, 0, 7, 5, 9, 900)));
    const events: AuctionEvent[] = [];
    for await (const event of live) events.push(event);
    expect(seqsOf(events)).toEqual([`state ${LATEST_SEQ}`, 4, 5, "closed 5"]);
    expect(events.at(-1)).toEqual({ type: "closed", auction: 7, seq: 5, winner: 9, amount: 900 });
    expect(live.done).toBe(true);
    // Done with the auction: the client told the server, and the auction may be followed again.
    await Bun.sleep(20);
    expect(server.requests.at(-1)).toMatchObject({ type: FrameType.UNSUBSCRIBE, auction: 7 });
    await client.subscribe(7).ready;
  });

  test("breaking out of the loop unsubscribes; the client carries on", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7, 0);
    for await (const event of live) {
      if (event.type === "update" && event.seq === 2) break;
    }
    expect(live.done).toBe(true);
    await live.close(); // the UNSUBSCRIBE the break sent is answered
    expect(server.requests.at(-1)).toMatchObject({ type: FrameType.UNSUBSCRIBE, auction: 7 });
    // Later pushes for the auction go nowhere; the iterator stays finished.
    push(server, update(7, 4));
    expect(await live.next()).toEqual({ value: undefined, done: true });
    expect(await client.ping()).toEqual({ now: SERVER_NOW });
    await client.subscribe(7).close();
  });

  test("one subscription per auction; ids are checked before anything is sent", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7);
    expect(() => client.subscribe(7)).toThrow(/already subscribed/);
    expect(() => client.subscribe(2 ** 32)).toThrow(RangeError);
    expect(() => client.subscribe(1, -2)).toThrow(RangeError);
    await live.ready;
    expect(server.requests).toHaveLength(1);
    // unsubscribe() ends the subscription too.
    await client.unsubscribe(7);
    expect(await live.next()).toEqual({ value: undefined, done: true });
  });

  test("an ERROR answering SUBSCRIBE ends the subscription with it", async () => {
    const { client } = await setup({
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.SUBSCRIBE) return false;
          reply(frameOf((out) => encodeError(out, 0, frame.req, ErrorCode.UNAUTHENTICATED, "AUTH first")));
          return true;
        }),
    });
    const live = client.subscribe(7);
    const error = await rejection(live.ready);
    expect(error).toBeInstanceOf(GavelError);
    expect((error as GavelError).code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(await rejection(live.next())).toBe(error);
    expect(await live.next()).toEqual({ value: undefined, done: true });
  });

  test("without reconnect, a lost connection ends the loop with GavelConnectionError after the events received", async () => {
    const { server, client } = await setup();
    const live = client.subscribe(7, 2);
    await live.ready;
    await Bun.sleep(20);
    server.sockets[0]!.end();
    expect(seqsOf(await take(live, 2))).toEqual([`state ${LATEST_SEQ}`, 3]);
    expect(await rejection(live.next())).toBeInstanceOf(GavelConnectionError);
    expect(await client.closed).toBeInstanceOf(GavelConnectionError);
    // Subscribing on a closed client ends at once.
    expect(await rejection(client.subscribe(9).ready)).toBeInstanceOf(GavelConnectionError);
  });

  test("close() of the client ends every loop without an error", async () => {
    const { client } = await setup();
    const live = client.subscribe(7);
    await live.ready;
    const loop = (async () => {
      const seen: AuctionEvent[] = [];
      for await (const event of live) seen.push(event);
      return seen;
    })();
    await Bun.sleep(20);
    await client.close();
    expect(seqsOf(await loop)).toEqual([`state ${LATEST_SEQ}`]);
  });

  test("a listener that throws does not stop the others or the replies", async () => {
    const { client } = await setup();
    const seen: number[] = [];
    const reported = spyOn(globalThis, "reportError").mockImplementation(() => {});
    cleanups.push(() => reported.mockRestore());
    client.onPush((push) => {
      if (push.type === FrameType.UPDATE && push.seq === 2) throw new Error("listener bug");
    });
    client.onPush((push) => seen.push(push.type === FrameType.UPDATE ? push.seq : -1));
    await client.subscribe(7, 0).ready;
    await Bun.sleep(20);
    expect(seen).toEqual([1, 2, 3]);
    expect(reported).toHaveBeenCalledTimes(1);
    expect((reported.mock.calls[0]![0] as Error).message).toBe("listener bug");
    expect(await client.ping()).toEqual({ now: SERVER_NOW });
  });
});

describe("reconnect", () => {
  test("a dropped connection is re-opened: AUTH again, then every subscription resumes from its last seq", async () => {
    const { server, client } = await setup({ connect: { reconnect: { delayMs: 10 } } });
    const drops: Error[] = [];
    let reconnects = 0;
    client.onDisconnect((reason) => drops.push(reason));
    client.onReconnect(() => reconnects++);
    await client.auth(GOOD_TOKEN);
    const live = client.subscribe(7);
    const other = client.subscribe(CLOSED_AUCTION + 1, 1);
    await Promise.all([live.ready, other.ready]);
    server.latest.set(7, 5);
    push(server, update(7, 4), update(7, 5));
    await Bun.sleep(20);

    server.holdBids = true;
    const held = rejection(client.bid(7, 42, 100));
    await Bun.sleep(20);
    server.sockets[0]!.end();
    expect(await held).toBeInstanceOf(GavelConnectionError);
    await until(() => reconnects === 1);
    expect(drops).toHaveLength(1);
    expect(drops[0]).toBeInstanceOf(GavelConnectionError);
    expect(client.connected).toBe(true);

    // On the new connection: AUTH first, then SUBSCRIBE with since = the last seq delivered.
    await until(() => server.requests.filter((f) => f.type === FrameType.SUBSCRIBE).length === 4);
    const afterDrop = server.requests.slice(server.requests.findIndex((f) => f.type === FrameType.BID) + 1);
    expect(afterDrop.map((f) => [f.type, f.type === FrameType.SUBSCRIBE ? f.since : null])).toEqual([
      [FrameType.AUTH, null],
      [FrameType.SUBSCRIBE, 5],
      [FrameType.SUBSCRIBE, LATEST_SEQ],
    ]);
    push(server, update(7, 6));
    expect(seqsOf(await take(live, 4))).toEqual([`state ${LATEST_SEQ}`, 4, 5, 6]);
    // The other one replayed 2..3 before the drop and nothing twice after it.
    expect(seqsOf(await take(other, 3))).toEqual([`state ${LATEST_SEQ}`, 2, 3]);
    expect(other.buffered).toBe(0);
    server.holdBids = false;
    expect((await client.bid(7, 42, 200)).status).toBe(Status.ACCEPTED);
  });

  test("while reconnecting, requests reject at once; close() stops the attempts", async () => {
    const { server, client } = await setup({ connect: { reconnect: { delayMs: 10, maxDelayMs: 20 } } });
    const live = client.subscribe(7);
    await live.ready;
    server.stop(); // nothing to reconnect to
    server.sockets[0]!.end();
    await until(() => !client.connected);
    expect(await take(live, 1)).toHaveLength(1); // the state event
    const error = await rejection(client.ping());
    expect(error).toBeInstanceOf(GavelConnectionError);
    expect(error.message).toContain("reconnecting");
    await Bun.sleep(100); // several failed attempts
    await client.close();
    expect(await client.closed).toBeNull();
    expect(await live.next()).toEqual({ value: undefined, done: true });
  });

  test("a SUBSCRIBE answered with UNAVAILABLE (the store is away) is asked again", async () => {
    let refusals = 1;
    const { server, client } = await setup({
      connect: { reconnect: { delayMs: 10 } },
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.SUBSCRIBE || refusals-- <= 0) return false;
          reply(frameOf((out) => encodeError(out, 0, frame.req, ErrorCode.UNAVAILABLE, "the store could not answer; retry")));
          return true;
        }),
    });
    const live = client.subscribe(7);
    expect((await live.ready).seq).toBe(LATEST_SEQ);
    expect(server.requests.filter((f) => f.type === FrameType.SUBSCRIBE)).toHaveLength(2);
  });

  test("maxAttempts: the client gives up and closed says why", async () => {
    const { server, client } = await setup({ connect: { reconnect: { delayMs: 5, maxAttempts: 3 } } });
    const live = client.subscribe(7);
    await live.ready;
    server.stop();
    server.sockets[0]!.end();
    const reason = await client.closed;
    expect(reason).toBeInstanceOf(GavelConnectionError);
    expect(reason!.message).toContain("after 3 attempts");
    expect(await take(live, 1)).toHaveLength(1); // the state event, then the failure
    expect(await rejection(live.next())).toBe(reason!);
  });
});

describe("ERROR replies", () => {
  test("an ERROR with a req rejects that request only", async () => {
    const { client } = await setup();
    const errors: GavelError[] = [];
    client.onError((e) => errors.push(e));
    const [auth, bid] = [client.auth("bad-token"), client.bid(7, 42, 100)];
    const error = await rejection(auth);
    expect(error).toBeInstanceOf(GavelError);
    expect(error).toMatchObject({ code: ErrorCode.AUTH_FAILED, message: "token rejected", codeName: "AUTH_FAILED" });
    expect((await bid).status).toBe(Status.ACCEPTED);
    expect(errors).toEqual([]);
  });

  test("UNKNOWN_TYPE (req 0) goes to onError; the connection and pending requests carry on", async () => {
    const { client } = await setup();
    const errors: GavelError[] = [];
    client.onError((e) => errors.push(e));
    const before = client.bid(7, 42, 100);
    client.sendRaw(Uint8Array.of(0x7f, 3, 0x61, 0x62, 0x63));
    const after = client.bid(7, 42, 200);
    expect((await before).amount).toBe(100);
    expect((await after).amount).toBe(200);
    expect(errors.map((e) => [e.code, e.req, e.message])).toEqual([[ErrorCode.UNKNOWN_TYPE, 0, "UNKNOWN_TYPE"]]);
  });

  test("MALFORMED (req 0) rejects everything pending; closed says why", async () => {
    const { client } = await setup({ configure: (s) => (s.holdBids = true) });
    const errors: GavelError[] = [];
    client.onError((e) => errors.push(e));
    const held = Array.from({ length: 10 }, (_, i) => rejection(client.bid(7, 42, 100 + i)));
    await Bun.sleep(20);
    expect(client.inFlight).toBe(10);
    client.sendRaw(Uint8Array.of(FrameType.BID, 3, 0, 0, 0));
    for (const bid of held) {
      const error = await bid;
      expect(error).toBeInstanceOf(GavelError);
      expect((error as GavelError).code).toBe(ErrorCode.MALFORMED);
    }
    const reason = await client.closed;
    expect(reason).toBeInstanceOf(GavelError);
    expect((reason as GavelError).code).toBe(ErrorCode.MALFORMED);
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.MALFORMED]);
    // Afterwards every request is refused at once with the same reason.
    expect(await rejection(client.ping())).toBe(reason!);
    expect(() => client.sendRaw(Uint8Array.of(FrameType.PING))).toThrow(GavelError);
  });

  test("an ERROR for a req nobody waits on goes to onError", async () => {
    const { client } = await setup({
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.PING) return false;
          reply(frameOf((out) => encodeError(out, 0, 999_999, ErrorCode.INTERNAL, "stray")));
          reply(frameOf((out) => encodePong(out, 0, frame.req, SERVER_NOW)));
          return true;
        }),
    });
    const errors: GavelError[] = [];
    client.onError((e) => errors.push(e));
    await client.ping();
    expect(errors.map((e) => [e.req, e.code, e.message])).toEqual([[999_999, ErrorCode.INTERNAL, "stray"]]);
  });
});

describe("connection loss and protocol violations", () => {
  test("the server closing rejects everything pending with GavelConnectionError", async () => {
    const { server, client } = await setup({ configure: (s) => (s.holdBids = true) });
    const held = Array.from({ length: 5 }, (_, i) => rejection(client.bid(7, 42, 100 + i)));
    await Bun.sleep(20);
    server.sockets[0]!.end();
    for (const bid of held) expect(await bid).toBeInstanceOf(GavelConnectionError);
    expect(await client.closed).toBeInstanceOf(GavelConnectionError);
    expect(await rejection(client.bid(7, 42, 1))).toBeInstanceOf(GavelConnectionError);
  });

  test("close() rejects pending requests, resolves closed with null, and is idempotent", async () => {
    const { client } = await setup({ configure: (s) => (s.holdBids = true) });
    const held = rejection(client.bid(7, 42, 100));
    await Bun.sleep(20);
    const unsent = rejection(client.bid(7, 42, 200));
    await client.close();
    await client.close();
    expect(await held).toBeInstanceOf(GavelConnectionError);
    expect(await unsent).toBeInstanceOf(GavelConnectionError);
    expect(await client.closed).toBeNull();
    expect(await rejection(client.ping())).toBeInstanceOf(GavelConnectionError);
  });

  test("a malformed frame from the server closes the client with GavelProtocolError", async () => {
    const { client } = await setup({
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.PING) return false;
          reply(Uint8Array.of(FrameType.RESULT, 3, 0, 0, 1));
          return true;
        }),
    });
    const ping = client.ping();
    expect(await rejection(ping)).toBeInstanceOf(GavelProtocolError);
    expect(await client.closed).toBeInstanceOf(GavelProtocolError);
  });

  test("a reply of the wrong type rejects that request only", async () => {
    const { client } = await setup({
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.BID) return false;
          reply(frameOf((out) => encodeOk(out, 0, frame.req)));
          return true;
        }),
    });
    expect(await rejection(client.bid(7, 42, 100))).toBeInstanceOf(GavelProtocolError);
    expect(await client.ping()).toEqual({ now: SERVER_NOW });
  });

  test("unknown frame types from the server are skipped", async () => {
    const { client } = await setup({
      configure: (s) =>
        (s.override = (frame, reply) => {
          if (frame.type !== FrameType.PING) return false;
          reply(Uint8Array.of(0x7e, 2, 0xaa, 0xbb));
          reply(frameOf((out) => encodePong(out, 0, frame.req, SERVER_NOW)));
          return true;
        }),
    });
    expect(await client.ping()).toEqual({ now: SERVER_NOW });
  });

  test("connecting to a closed port rejects with GavelConnectionError", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const error = await rejection(GavelClient.connect({ port }));
    expect(error).toBeInstanceOf(GavelConnectionError);
    expect(error.cause).toBeDefined();
  });
});

describe("write backpressure", () => {
  test("a server that does not read: partial writes are kept and sent on drain, in order", async () => {
    const { server, client } = await setup({
      maxQueuedBytes: 64 * 1024 * 1024,
      configure: (s) => (s.pauseOnOpen = true),
    });
    const writes = spyWrites(client);
    // More than the kernel's socket buffers take while the server is not reading.
    const count = 400_000;
    const bids: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) bids.push(client.bid(7, 42, i + 1));
    await Bun.sleep(50);
    expect(writes.length).toBe(1);
    expect(writes[0]!.taken).toBeLessThan(writes[0]!.offered);
    // Requests made meanwhile queue behind the unwritten bytes.
    const late = client.ping();
    await Bun.sleep(20);
    expect(writes.length).toBe(1);

    server.resume();
    await Promise.all(bids);
    expect(await late).toEqual({ now: SERVER_NOW });
    expect(writes.length).toBeGreaterThan(1);
    const total = count * BID_FRAME_SIZE + 6;
    expect(writes.reduce((sum, w) => sum + w.taken, 0)).toBe(total);
    const amounts = server.requests.map((f) => (f.type === FrameType.BID ? f.amount : -1));
    expect(amounts.length).toBe(count + 1);
    for (let i = 0; i < count; i++) if (amounts[i] !== i + 1) throw new Error(`bid ${i} arrived as ${amounts[i]}`);
    expect(amounts[count]).toBe(-1);
  });

  test("the write queue is bounded: past maxQueuedBytes requests are refused, not queued", async () => {
    const bound = 4096;
    const { client } = await setup({ maxQueuedBytes: bound });
    const fit = Math.floor(bound / BID_FRAME_SIZE);
    const bids = Array.from({ length: fit + 3 }, (_, i) => client.bid(7, 42, i + 1));
    const settled = await Promise.allSettled(bids);
    expect(settled.slice(0, fit).every((s) => s.status === "fulfilled")).toBe(true);
    for (const s of settled.slice(fit)) {
      expect(s.status).toBe("rejected");
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(GavelBackpressureError);
    }
    // Once written, the queue has room again.
    expect((await client.bid(7, 42, 1)).status).toBe(Status.ACCEPTED);
    expect(() => client.sendRaw(new Uint8Array(bound + 1))).toThrow(GavelBackpressureError);
  });
});
