-- Cancels an auction: closes it at once with no sale and publishes its CLOSED frame (winner 0,
-- amount 0), atomically, so a racing bid is either before the cancel or CLOSED.
--
-- KEYS[1]  the auction hash, gavel:{<tag>}:a:<id> (fields in bid.lua)
-- KEYS[2]  the group's ends sorted set, gavel:{<tag>}:ends
-- KEYS[3]  the group's live set, KEYS[4] its closed set (see create.lua)
-- KEYS[5]  the group's webhook outbox stream, gavel:{<tag>}:outbox: with ARGV[2] = '1' the
--          cancel's `closed` event (outcome cancelled) is appended to it
-- KEYS[6]  the group's closed auctions by ends_at, gavel:{<tag>}:retire (lua/retire.lua)
-- KEYS[7]  the group's auctions not started yet, gavel:{<tag>}:starts, and KEYS[8] the same by
--          id, gavel:{<tag>}:scheduled (see create.lua)
-- ARGV[1]  the auction id
-- Returns  { reply, seq }: reply 0 cancelled, 1 unknown, 2 already closed. An auction whose
--          ends_at has passed counts as closed even when the closer has not run yet: the
--          closer decides its winner and publishes its one CLOSED.
-- On a Cluster, PUBLISH is sent as SPUBLISH (src/store/redis.ts): the channel name stays.

local CANCELLED = 0
local UNKNOWN = 1
local CLOSED = 2

-- CLOSED frame, as in close.lua.
local CLOSED_TYPE = 12
local CLOSED_PAYLOAD = 20
local CLOSED_LAYOUT = '>BBI4I4I4I8'
local NO_WINNER = 0
local NO_SALE = 0
local MS_PER_SECOND = 1000
local MICROS_PER_MS = 1000

local function int(n)
  return string.format('%d', n)
end

local key = KEYS[1]
local ends = KEYS[2]
local id = ARGV[1]
local OUTBOX = ARGV[2] == '1' and KEYS[5]

local time = redis.call('TIME')
local now = tonumber(time[1]) * MS_PER_SECOND + math.floor(tonumber(time[2]) / MICROS_PER_MS)

local v = redis.call('HMGET', key, 'en', 'cl', 'sq')
local en = tonumber(v[1])
if en == nil then
  return { UNKNOWN, 0 }
end
local seq = tonumber(v[3])
if v[2] == '1' or en <= now then
  return { CLOSED, seq }
end

-- ends_at moves to now (it is in the future here), so the auction reads as ended everywhere.
redis.call('HSET', key, 'cl', '1', 'wn', int(NO_WINNER), 'en', int(now))
redis.call('ZREM', ends, id)
-- The listing's id sets (see create.lua).
local group = string.match(ends, '^(.*):ends$')
redis.call('ZREM', KEYS[3], id)
redis.call('ZADD', KEYS[4], id, id)
redis.call('ZADD', KEYS[6], int(now), id)
redis.call('ZREM', KEYS[7], id)
redis.call('ZREM', KEYS[8], id)
redis.call('PUBLISH', group .. ':updates',
  struct.pack(CLOSED_LAYOUT, CLOSED_TYPE, CLOSED_PAYLOAD, tonumber(id), seq, NO_WINNER, NO_SALE))

-- Webhooks (outbox): the rule of src/auction/notification.ts (notifyClose, cancelled).
if OUTBOX then
  redis.call('XADD', OUTBOX, '*', 't', 'closed', 'a', id, 's', int(seq), 'at', int(now),
    'u', '0', 'm', '0', 'l', '0', 'e', '0', 'o', 'cancelled')
end

return { CANCELLED, seq }
