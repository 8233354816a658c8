-- The closing step for one shard group: of the auctions named, closes each whose ends_at has
-- passed, decides its winner and publishes its CLOSED frame, atomically. Every node runs it
-- for every group, on the ids it just read as due in the ends set; an auction closed here has
-- left the ends set and carries cl=1, so a racing call by another node skips it: each auction
-- is closed, returned and published once.
--
-- KEYS[1]  the group's ends sorted set, gavel:{<tag>}:ends (member auction id, score ends_at)
-- KEYS[2]  the group's live set, gavel:{<tag>}:live, and KEYS[3] its closed set (see create.lua)
-- KEYS[4]  the group's webhook outbox stream, gavel:{<tag>}:outbox: with ARGV[1] = '1' each
--          closed auction's `won` (on a sale) and `closed` events are appended to it
-- KEYS[5]  the group's closed auctions by ends_at, gavel:{<tag>}:retire (what lua/retire.lua
--          deletes once GAVEL_RETENTION has passed)
-- KEYS[5+i] the hash of the i-th auction to look at, gavel:{<tag>}:a:<id>
-- ARGV[1]  '1' when webhooks are on, else '0'
-- ARGV[1+i] the i-th auction's id
-- Returns  a flat array of integers, per closed auction: id, seq, winner, amount (high part),
--          amount (low 32 bits); amount is split for the same ioredis reason as in bid.lua.
--          winner and amount are 0 when nothing sold.
--
-- Every key is in KEYS with the group's tag, so Redis Cluster can tell, while it moves the
-- group's slot, whether the call can run (else it answers ASK or TRYAGAIN and nothing ran).
-- On a Cluster, PUBLISH is sent as SPUBLISH (src/store/redis.ts): the channel name stays.

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
local group = string.match(ends, '^(.*):ends$')
local OUTBOX = ARGV[1] == '1' and KEYS[4]
local retire = KEYS[5]

local time = redis.call('TIME')
local now = tonumber(time[1]) * MS_PER_SECOND + math.floor(tonumber(time[2]) / MICROS_PER_MS)

-- The listing's id sets (see create.lua).
local live = KEYS[2]
local closedSet = KEYS[3]

local out = {}
local frames = {}
-- The sets' changes, made once for the whole call after the loop: one variadic command per
-- set instead of four per auction (a command from Lua costs about as much as the work it does).
local leftEnds = {}
local leftLive = {}
local closedPairs = {}
local retirePairs = {}

for i = 2, #ARGV do
  local id = ARGV[i]
  local key = KEYS[4 + i]
  local v = redis.call('HMGET', key, 'en', 'cl', 'sq', 'am', 'ld', 'rs')
  local en = tonumber(v[1])
  if en == nil or v[2] == '1' then
    -- Gone, or already closed (by cancel): nothing left to close.
    leftEnds[#leftEnds + 1] = id
    if en == nil then leftLive[#leftLive + 1] = id end
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
    leftEnds[#leftEnds + 1] = id
    leftLive[#leftLive + 1] = id
    closedPairs[#closedPairs + 1] = id
    closedPairs[#closedPairs + 1] = id
    retirePairs[#retirePairs + 1] = int(en)
    retirePairs[#retirePairs + 1] = id
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

if #leftEnds > 0 then redis.call('ZREM', ends, unpack(leftEnds)) end
if #leftLive > 0 then redis.call('ZREM', live, unpack(leftLive)) end
if #closedPairs > 0 then redis.call('ZADD', closedSet, unpack(closedPairs)) end
if #retirePairs > 0 then redis.call('ZADD', retire, unpack(retirePairs)) end

if #frames > 0 then
  -- The same channel as the group's UPDATEs, so a subscriber sees an auction's last UPDATE
  -- before its CLOSED.
  redis.call('PUBLISH', group .. ':updates', table.concat(frames))
end

return out
