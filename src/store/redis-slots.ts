// Redis Cluster's key -> slot function (CRC16/XMODEM of the key's hash tag, mod 16384), and
// the balanced hash tags of the shard groups: group g's tag lands in the g-th of G equal slices
// of the slot space, so each master, owning an even share of the slots, owns close to G/M groups.

/** Redis Cluster's slot count. */
export const CLUSTER_SLOTS = 16_384;
/**
 * Each group's tag is searched within a slice of at least this many slots around its target:
 * past 256 groups the slices are narrower than this and the tags only land near their target,
 * which keeps the search short (about 256 CRCs a group) and is still even at the scale of a
 * master, which owns thousands of slots.
 */
const MIN_SLICE = 64;

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16/XMODEM, the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

const encoder = new TextEncoder();

/** The slot of a key: of the part inside its first non-empty `{...}` when there is one. */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(encoder.encode(key)) % CLUSTER_SLOTS;
}

/**
 * The balanced hash tag of each of `shards` groups: `g<n>` when it already lands in the group's
 * slice of the slot space, else the first `g<n>-<k>` that does. Deterministic: every node
 * computes the same tags.
 */
export function balancedTags(shards: number): string[] {
  const tags: string[] = [];
  for (let g = 0; g < shards; g++) {
    const target = Math.floor(((g + 0.5) * CLUSTER_SLOTS) / shards);
    const half = Math.max(CLUSTER_SLOTS / shards, MIN_SLICE) / 2;
    const lo = Math.floor(target - half);
    const hi = Math.ceil(target + half);
    const within = (slot: number) => (lo < 0 ? slot >= lo + CLUSTER_SLOTS || slot < hi : hi > CLUSTER_SLOTS ? slot >= lo || slot < hi - CLUSTER_SLOTS : slot >= lo && slot < hi);
    let tag = `g${g}`;
    for (let k = 1; !within(keySlot(tag)); k++) tag = `g${g}-${k}`;
    tags.push(tag);
  }
  return tags;
}

/** The legacy tags `g<n>`: the layout of deployments that started before balanced tags. */
export function legacyTags(shards: number): string[] {
  return Array.from({ length: shards }, (_, g) => `g${g}`);
}
