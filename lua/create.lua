-- Creates an auction if its id is free; the hash fields are documented in bid.lua.
--
-- KEYS[1]  the auction hash, gavel:{g<n>}:a:<id>
-- KEYS[2]  its history stream, <hashkey>:h
-- KEYS[3]  the shard group's ends sorted set, gavel:{g<n>}:ends
-- ARGV     id, title, starting price, min increment, reserve, buy-now, starts_at, ends_at,
--          anti-snipe ms, max ends_at: decimal strings (and the title as is). A starts_at of 0
--          means "now" by Redis TIME: the clock bids are judged by, so an auction created to
--          start now is open to the very next bid (a node's estimate of TIME can be a
--          millisecond ahead).
-- Returns  1 when created, 0 when the id is taken.

-- sp mi rs bn st as mx, each u64 big-endian: what bid.lua reads as 'fx'.
local FIXED_LAYOUT = '>I8I8I8I8I8I8I8'

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end

-- A history left by an earlier auction under this id would refuse the new one's entries
-- (stream ids must grow, and seq starts again at 1).
redis.call('DEL', KEYS[2])

local startsAt = ARGV[7]
if startsAt == '0' then
  local time = redis.call('TIME')
  startsAt = string.format('%d', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
end

redis.call('HSET', KEYS[1],
  'ti', ARGV[2], 'sp', ARGV[3], 'mi', ARGV[4], 'rs', ARGV[5], 'bn', ARGV[6],
  'st', startsAt, 'en', ARGV[8], 'as', ARGV[9], 'mx', ARGV[10],
  'sq', '0', 'am', '0', 'ld', '0', 'cl', '0', 'wn', '0',
  -- The fields that never change, packed for bid.lua: one field and one unpack instead of seven.
  'fx', struct.pack(FIXED_LAYOUT, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
    tonumber(ARGV[6]), tonumber(startsAt), tonumber(ARGV[9]), tonumber(ARGV[10])))
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])

return 1
