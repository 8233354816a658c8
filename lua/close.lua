-- The closing step for one shard group: closes every auction of the group whose ends_at has
-- passed, decides its winner and publishes its CLOSED frame, atomically. Every node runs it
-- for every group; an auction closed here has left the ends set and carries cl=1, so a
-- racing call by another node skips it: each auction is closed, returned and published once.
--
-- KEYS[1]  the group's ends sorted set, gavel:{g<n>}:ends (member auction id, score ends_at)
-- KEYS[2]  the group's webhook outbox stream, gavel:{g<n>}:outbox: with ARGV[2] = '1' each
--          closed auction's `won` (on a sale) and `closed` events are appended to it
-- KEYS[3]  the group's closed auctions by ends_at, gavel:{g<n>}:retire (what lua/retire.lua
--          deletes once GAVEL_RETENTION has passed)
-- ARGV[1]  at most this many due entries are looked at per call
-- Returns  a flat array of integers, per closed auction: id, seq, winner, amount (high part),
--          amount (low 32 bits); amount is split for the same ioredis reason as in bid.lua.
--          winner and amount are 0 when nothing sold.
--
-- The auction hashes (fields in bid.lua) are derived from KEYS[1]: they carry the same {g<n>}
-- tag, so the call stays on one Cluster slot, like bid.lua's history and ends keys.
-- Redis Cluster: PUBLISH becomes SPUBLISH (sharded Pub/Sub), the channel name stays.

-- CLOSED frame: type 0x0C, payload length 20, then auction u32, seq u32, winner u32,
-- amount u64, all big-endian.
local CLOSED_TYPE = 12
local CLOSED_PAYLOAD = 20
local CLOSED_LAYOUT = '>BBI4I4I4I8'
local TWO_32 = 4294967296
local MS_PER_SECOND = 1000
local MICROS_PER_MS = 1000

local function int(n)
  return string.format('%d', n)
end

local ends = KEYS[1]
local retire = KEYS[3]
local group = string.match(ends, '^(.*):ends$')
local limit = tonumber(ARGV[1])
local OUTBOX = ARGV[2] == '1' and KEYS[2]

local time = redis.call('TIME')
local now = tonumber(time[1]) * MS_PER_SECOND + math.floor(tonumber(time[2]) / MICROS_PER_MS)

-- The listing's id sets (see create.lua).
local live = group .. ':live'
local closedSet = group .. ':closed'

local due = redis.call('ZRANGEBYSCORE', ends, '-inf', int(now), 'LIMIT', 0, limit)
local out = {}
local frames = {}

for _, id in ipairs(due) do
  local key = group .. ':a:' .. id
  local v = redis.call('HMGET', key, 'en', 'cl', 'sq', 'am', 'ld', 'rs')
  local en = tonumber(v[1])
  if en == nil or v[2] == '1' then
    -- Gone, or already closed (by cancel): nothing left to close.
    redis.call('ZREM', ends, id)
    if en == nil then redis.call('ZREM', live, id) end
  elseif en > now then
    -- The score is stale (ends_at moved without it); put it right and wait.
    redis.call('ZADD', ends, int(en), id)
  else
    local seq = tonumber(v[3])
    local amount = tonumber(v[4])
    local leader = tonumber(v[5])
    local winner = 0
    local sold = 0
    -- The leader wins if the reserve is met (a reserve of 0 is met by any bid).
    if leader > 0 and amount >= tonumber(v[6]) then
      winner = leader
      sold = amount
    end
    redis.call('HSET', key, 'cl', '1', 'wn', int(winner))
    redis.call('ZREM', ends, id)
    redis.call('ZREM', live, id)
    redis.call('ZADD', closedSet, id, id)
    redis.call('ZADD', retire, int(en), id)
    local n = #out
    local high = math.floor(sold / TWO_32)
    out[n + 1] = tonumber(id)
    out[n + 2] = seq
    out[n + 3] = winner
    out[n + 4] = high
    out[n + 5] = sold - high * TWO_32
    frames[#frames + 1] = struct.pack(CLOSED_LAYOUT, CLOSED_TYPE, CLOSED_PAYLOAD, tonumber(id), seq, winner, sold)
    -- Webhooks (outbox): the rule of src/auction/notification.ts (notifyClose).
    if OUTBOX then
      local outcome = 'no_sale'
      if winner > 0 then
        outcome = 'sold'
        redis.call('XADD', OUTBOX, '*', 't', 'won', 'a', id, 's', int(seq), 'at', int(now),
          'u', int(winner), 'm', int(sold), 'l', '0', 'e', '0', 'o', '')
      end
      redis.call('XADD', OUTBOX, '*', 't', 'closed', 'a', id, 's', int(seq), 'at', int(now),
        'u', int(winner), 'm', int(sold), 'l', '0', 'e', '0', 'o', outcome)
    end
  end
end

if #frames > 0 then
  -- The same channel as the group's UPDATEs, so a subscriber sees an auction's last UPDATE
  -- before its CLOSED.
  redis.call('PUBLISH', group .. ':updates', table.concat(frames))
end

return out
