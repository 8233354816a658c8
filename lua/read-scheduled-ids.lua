-- Reads a scheduled page's ids: per shard group, first drops a bounded step of the auctions
-- that have started from its starts and scheduled sets (as create.lua does), then reads its
-- scheduled ids after the page's cursor. One text, as lua/read-ids.lua answers.
--
-- KEYS     per group three keys: its starts set gavel:{<tag>}:starts (score = starts_at), its
--          scheduled set gavel:{<tag>}:scheduled (score = id), and the set to read the ids
--          from: the scheduled set, or the group's live set gavel:{<tag>}:live (score = id)
--          while the scheduled set is not yet filled for auctions stored before it existed
--          (src/store/redis-scheduled-backfill.ts). On a cluster, one group per call.
-- ARGV     now (ms, the node's estimate of Redis TIME), the lowest id to read (ZRANGEBYSCORE's
--          syntax, e.g. '(17'), how many ids at most per group
-- Returns  per group, its ids in id order separated by commas, the groups separated by
--          semicolons.
--
-- The ids may still hold auctions that started (past a step's worth, or since the step): the
-- caller reads each auction and keeps those not started.

-- Started entries one group's step drops at most: a short call whatever started meanwhile.
local STARTED_STEP = 256

local now = ARGV[1]
local texts = {}
for g = 1, #KEYS / 3 do
  local starts, scheduled, source = KEYS[3 * g - 2], KEYS[3 * g - 1], KEYS[3 * g]
  local started = redis.call('ZRANGEBYSCORE', starts, '-inf', now, 'LIMIT', 0, STARTED_STEP)
  if #started > 0 then
    redis.call('ZREM', starts, unpack(started))
    redis.call('ZREM', scheduled, unpack(started))
  end
  texts[g] = table.concat(redis.call('ZRANGEBYSCORE', source, ARGV[2], '+inf', 'LIMIT', 0, ARGV[3]), ',')
end
return table.concat(texts, ';')
