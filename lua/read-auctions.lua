-- Reads several auctions in one call (a listing page), answered as one JSON text.
--
-- KEYS     the auctions' hashes (on a cluster, all of one shard group: one hash tag, one slot)
-- ARGV     the hash fields to read, the same for every key (src/store/redis-auction-records.ts)
-- Returns  a JSON array with, per key, the fields' values in ARGV's order (false where absent:
--          every value of a key with no hash).
-- One text, because the client spends about a microsecond on each string of a reply (a page
-- of separate values was 1,700 of them); cjson, because building the text in Lua cost Redis
-- more than the reads.

local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HMGET', KEYS[i], unpack(ARGV))
end
return cjson.encode(out)
