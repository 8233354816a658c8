-- The retention step for one shard group (GAVEL_RETENTION): deletes closed auctions whose
-- ends_at is older than the retention, with their history, atomically per call. The caller
-- reads the candidates first (ZRANGEBYSCORE on KEYS[1]) so that every key touched here is in
-- KEYS; each candidate is checked again here, so a stale read, or another node retiring the
-- same auctions at the same moment, deletes nothing it should not and fails nothing.
--
-- KEYS[1]  the group's closed auctions by ends_at, gavel:{<tag>}:retire (member id, score ends_at;
--          written by close.lua and cancel.lua)
-- KEYS[2]  the group's closed ids, gavel:{<tag>}:closed (the listing's; see create.lua)
-- KEYS[3]  the group's auctions not started yet, gavel:{<tag>}:starts, and KEYS[4] the same by
--          id, gavel:{<tag>}:scheduled (see create.lua): an auction deleted here leaves them
--          too, should it still be there
-- KEYS[k], KEYS[k+1]  from k = 5, per candidate: its hash gavel:{<tag>}:a:<id> and its history
--          stream <hash>:h. All keys carry the same {<tag>} tag: one Cluster slot.
-- ARGV[1]  the retention in ms: an auction goes when its ends_at <= Redis TIME - this
-- ARGV[2..] the candidates' ids, in the order of their KEYS pairs
-- Returns  { deleted ids, kept ids }: kept are candidates that exist and stay (an id used again
--          by a newer auction that is not closed, or an ends_at not old enough), so the caller
--          can list them again where it unlisted them first.
--
-- UNLINK, not DEL: a long history is freed by Redis's background thread, not inside the call
-- that holds every other command of the server back.

local MS_PER_SECOND = 1000
local MICROS_PER_MS = 1000
local FIRST_AUCTION_KEY = 5

local function int(n)
  return string.format('%d', n)
end

local retire = KEYS[1]
local closedSet = KEYS[2]
local starts = KEYS[3]
local scheduled = KEYS[4]
local time = redis.call('TIME')
local now = tonumber(time[1]) * MS_PER_SECOND + math.floor(tonumber(time[2]) / MICROS_PER_MS)
local cutoff = now - tonumber(ARGV[1])

local deleted = {}
local kept = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local hash = KEYS[FIRST_AUCTION_KEY + (i - 2) * 2]
  local history = KEYS[FIRST_AUCTION_KEY + (i - 2) * 2 + 1]
  local v = redis.call('HMGET', hash, 'en', 'cl')
  local en = tonumber(v[1])
  if en == nil then
    -- Gone already (another node retired it a moment ago): only its entries may be left.
    redis.call('ZREM', retire, id)
    redis.call('ZREM', closedSet, id)
    redis.call('ZREM', starts, id)
    redis.call('ZREM', scheduled, id)
  elseif v[2] ~= '1' then
    -- The id belongs to a newer auction, not closed: it is not this set's any more.
    redis.call('ZREM', retire, id)
    kept[#kept + 1] = id
  elseif en > cutoff then
    -- Not old enough (the score was stale): score it by its ends_at and wait.
    redis.call('ZADD', retire, int(en), id)
    kept[#kept + 1] = id
  else
    redis.call('UNLINK', hash, history)
    redis.call('ZREM', retire, id)
    redis.call('ZREM', closedSet, id)
    redis.call('ZREM', starts, id)
    redis.call('ZREM', scheduled, id)
    deleted[#deleted + 1] = id
  end
end

return { deleted, kept }
