-- Creates an auction if its id is free; the hash fields are documented in bid.lua.
--
-- KEYS[1]  the auction hash, gavel:{<tag>}:a:<id>
-- KEYS[2]  its history stream, <hashkey>:h
-- KEYS[3]  the shard group's ends sorted set, gavel:{<tag>}:ends
-- KEYS[4]  the group's epoch, gavel:{<tag>}:epoch (src/store/redis-epoch.ts)
-- KEYS[5]  the group's live set, gavel:{<tag>}:live; KEYS[6] its closed set, gavel:{<tag>}:closed
-- KEYS[7]  the group's auctions not started yet, gavel:{<tag>}:starts (score = starts_at), and
-- KEYS[8]  the same auctions by id, gavel:{<tag>}:scheduled (score = id)
-- ARGV[1]  the group's epoch as the calling node last saw it: when Redis holds another (or
--          none), Redis lost the group's data since, and the call fails with a GAVELEPOCH
--          error before it writes anything (the node looks again, then retries)
-- ARGV[2..] id, title, starting price, min increment, reserve, buy-now, starts_at, ends_at,
--          anti-snipe ms, max ends_at: decimal strings (and the title as is); then the
--          increment table as JSON [{"from":..,"step":..},...], or '' for none (the min
--          increment at every price). A starts_at of 0 means "now" by Redis TIME: the clock
--          bids are judged by, so an auction created to start now is open to the very next bid
--          (a node's estimate of TIME can be a millisecond ahead).
-- Returns  1 when created, 0 when the id is taken.
--
-- The auction's id also goes into the group's live set (score = id), which listAuctions pages
-- by id for the open and scheduled phases; close.lua and cancel.lua move it to the closed set.
-- An auction that starts later also goes into the group's starts set (score = starts_at) and
-- scheduled set (score = id), which a scheduled page pages by id instead of walking the live
-- set's open ids. Each create drops from both up to STARTED_STEP entries that have started
-- since (as lua/read-scheduled-ids.lua does), so they hold about what is scheduled.
-- Every key is in KEYS with the group's tag (one Cluster slot).

-- sp mi rs bn st as mx, each u64 big-endian: what bid.lua reads as 'fx'.
local FIXED_LAYOUT = '>I8I8I8I8I8I8I8'
-- One increment table row: from u64, step u64 (what bid.lua reads after the fixed fields).
local INCREMENT_ROW_LAYOUT = '>I8I8'
-- Started entries one call drops at most: a short call whatever started meanwhile.
local STARTED_STEP = 256

if redis.call('GET', KEYS[4]) ~= ARGV[1] then
  return redis.error_reply('GAVELEPOCH the epoch of ' .. KEYS[4] .. ' changed: Redis lost this shard group\'s data')
end
-- The auction's fields, after the epoch.
local A = { unpack(ARGV, 2) }

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end

-- A history left by an earlier auction under this id would refuse the new one's entries
-- (stream ids must grow, and seq starts again at 1).
redis.call('DEL', KEYS[2])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local startsAt = A[7]
if startsAt == '0' then
  startsAt = string.format('%d', now)
end

-- The fields that never change, packed for bid.lua: one field and one unpack instead of seven;
-- then the increment table's rows, each from u64, step u64 (none: the min increment applies).
local fixed = struct.pack(FIXED_LAYOUT, tonumber(A[3]), tonumber(A[4]), tonumber(A[5]),
  tonumber(A[6]), tonumber(startsAt), tonumber(A[9]), tonumber(A[10]))
local increments = A[11] or ''
if increments ~= '' then
  local rows = {}
  for _, row in ipairs(cjson.decode(increments)) do
    rows[#rows + 1] = struct.pack(INCREMENT_ROW_LAYOUT, row['from'], row['step'])
  end
  fixed = fixed .. table.concat(rows)
end

redis.call('HSET', KEYS[1],
  'ti', A[2], 'sp', A[3], 'mi', A[4], 'rs', A[5], 'bn', A[6],
  'st', startsAt, 'en', A[8], 'as', A[9], 'mx', A[10],
  'sq', '0', 'am', '0', 'ld', '0', 'tp', '0', 'cl', '0', 'wn', '0', 'ic', increments,
  'fx', fixed)
redis.call('ZADD', KEYS[3], A[8], A[1])
redis.call('ZREM', KEYS[6], A[1])
redis.call('ZADD', KEYS[5], A[1], A[1])
local started = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', string.format('%d', now), 'LIMIT', 0, STARTED_STEP)
if #started > 0 then
  redis.call('ZREM', KEYS[7], unpack(started))
  redis.call('ZREM', KEYS[8], unpack(started))
end
if tonumber(startsAt) > now then
  redis.call('ZADD', KEYS[7], startsAt, A[1])
  redis.call('ZADD', KEYS[8], A[1], A[1])
else
  redis.call('ZREM', KEYS[7], A[1])
  redis.call('ZREM', KEYS[8], A[1])
end

return 1
