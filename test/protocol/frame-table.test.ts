// The per-type table: every frame type is in it once, the length checks derived from it accept
// exactly the lengths the contract gives, and the names map back to the constants.

import { describe, expect, test } from "bun:test";
import { clientFrameFit, Fit, serverFrameFit } from "../../src/protocol/codec.ts";
import { AUTH_MIN_PAYLOAD, ERROR_HEADER_PAYLOAD, ErrorCode, FrameType, MAX_PAYLOAD, PayloadLength, Phase, Status } from "../../src/protocol/constants.ts";
import { Direction, FRAME_SPECS, frameSpec, malformedMessage } from "../../src/protocol/frame-table.ts";
import { errorCodeName, frameTypeName, phaseName, statusName } from "../../src/protocol/names.ts";

const CLIENT_TYPES = [FrameType.BID, FrameType.SUBSCRIBE, FrameType.UNSUBSCRIBE, FrameType.QUERY, FrameType.AUTH, FrameType.PING, FrameType.MAX_BID];

describe("the frame table", () => {
  test("has every frame type once, under its constant's name", () => {
    expect(FRAME_SPECS.map((s) => s.type).sort((a, b) => a - b)).toEqual(Object.values(FrameType).sort((a, b) => a - b));
    for (const spec of FRAME_SPECS) expect(FrameType[spec.name]).toBe(spec.type);
    expect(FRAME_SPECS.filter((s) => s.direction === Direction.CLIENT).map((s) => s.type).sort()).toEqual([...CLIENT_TYPES].sort());
  });

  test("the fit checks accept exactly the contract's lengths, per direction", () => {
    for (let type = 0; type < 256; type++) {
      for (let length = 0; length <= MAX_PAYLOAD; length++) {
        const spec = frameSpec(type);
        const name = spec?.name;
        const fixed = name !== undefined && name in PayloadLength ? PayloadLength[name as keyof typeof PayloadLength] : undefined;
        const fits =
          type === FrameType.AUTH ? length >= AUTH_MIN_PAYLOAD : type === FrameType.ERROR ? length >= ERROR_HEADER_PAYLOAD : length === fixed;
        const expectedFor = (direction: Direction) => (spec === undefined || spec.direction !== direction ? Fit.UNKNOWN_TYPE : fits ? Fit.OK : Fit.MALFORMED);
        if (clientFrameFit(type, length) !== expectedFor(Direction.CLIENT)) throw new Error(`client fit of type ${type} length ${length}`);
        if (serverFrameFit(type, length) !== expectedFor(Direction.SERVER)) throw new Error(`server fit of type ${type} length ${length}`);
      }
    }
    expect(clientFrameFit(FrameType.BID, PayloadLength.BID)).toBe(Fit.OK);
  });

  test("the MALFORMED message names the type and the lengths it allows", () => {
    expect(malformedMessage(FrameType.BID, 3)).toBe("payload length 3 does not fit BID (20)");
    expect(malformedMessage(FrameType.AUTH, 2)).toBe(`payload length 2 does not fit AUTH (${AUTH_MIN_PAYLOAD}..${MAX_PAYLOAD})`);
  });
});

describe("names of the closed sets", () => {
  test("map every code back to its constant's name, and an unknown code to undefined", () => {
    for (const [name, code] of Object.entries(Status)) expect(statusName(code)).toBe(name);
    for (const [name, code] of Object.entries(Phase)) expect(phaseName(code)).toBe(name);
    for (const [name, code] of Object.entries(ErrorCode)) expect(errorCodeName(code)).toBe(name);
    for (const [name, code] of Object.entries(FrameType)) expect(frameTypeName(code)).toBe(name);
    expect(statusName(200)).toBeUndefined();
    expect(errorCodeName(0)).toBeUndefined();
  });
});
