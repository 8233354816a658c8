-- Reads several auctions in one call (a listing page), answered as one JSON text: decoding
-- thousands of separate field and value strings cost most of a page's time in the client.
--
-- KEYS     the auctions' hashes (on a cluster, all of one shard group: one hash tag, one slot)
-- Returns  a JSON array with, per key, its fields and values flattened (empty: no auction)

local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('HGETALL', KEYS[i])
end
return cjson.encode(out)
