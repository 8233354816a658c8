// Big-endian integer access on plain byte arrays; see docs/protocol.md ("Framing").
// Hand-rolled rather than DataView so that decoding straight out of a socket chunk needs no
// view object per chunk, and JSC turns these into a few register operations.

export const TWO_POW_32 = 0x1_0000_0000;

export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
  );
}

/**
 * A u64 as a JS number: exact up to 2^53-1. Above that the result is rounded, so callers that
 * need exactness (amounts) check the high word (the u32 at `offset`) first.
 */
export function readU64(bytes: Uint8Array, offset: number): number {
  return readU32(bytes, offset) * TWO_POW_32 + readU32(bytes, offset + 4);
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = value >>> 16;
  bytes[offset + 2] = value >>> 8;
  bytes[offset + 3] = value;
}

/** Writes a non-negative integer up to 2^53-1 as u64. */
export function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  writeU32(bytes, offset, high);
  writeU32(bytes, offset + 4, value - high * TWO_POW_32);
}
