-- Applies a batch of bids in order, atomically: the Redis twin of src/auction/bid-rule.ts
-- (same rule, same order of statuses; test/store/redis.test.ts holds it to the rule).
--
-- KEYS[1]   the shard group's ends sorted set, gavel:{<tag>}:ends (for the closer)
-- KEYS[2]   the group's epoch, gavel:{<tag>}:epoch (src/store/redis-epoch.ts)
-- KEYS[k], KEYS[k+1]  for each auction the bids name, once: its hash gavel:{<tag>}:a:<id> and
--           its history stream <hash>:h. Every key a call touches is in KEYS and carries the
--           same shard-group tag {<tag>}, so the call fits one Cluster slot.
-- ARGV[1]   the bids, in order, packed: per bid key index u32 (1-based, into KEYS: the
--           auction's hash), user u32, amount u64, kind u8 (0 BID, 1 MAX_BID: the amount is
--           the bidder's hidden maximum), big-endian (BID_LAYOUT).
-- KEYS[#KEYS] with ARGV[3] = '1' (webhooks on): the group's outbox stream gavel:{<tag>}:outbox,
--           last so the indices above stay put. Each step's `outbid` and `extended` events
--           are appended to it in this call (src/store/outbox-redis.ts reads them).
-- ARGV[2]   the group's epoch as the calling node last saw it. When Redis holds another (or
--           none), Redis lost the group's data since: the call fails with a GAVELEPOCH error
--           before it reads or writes anything, and the node looks again.
-- Returns   the results, in the same order, packed: per bid status u32, amount after u64,
--           leader after u32, seq u32, ends_at u64, stepped u8 (1: the bid changed the visible
--           amount or leader, ACCEPTED or OUTBID; its UPDATE was published) (RESULT_LAYOUT).
-- Binary in and out because parsing 3 arguments and building 6 integer replies per bid cost
-- the Gavel process ~6 us a bid in ioredis, on a machine whose cores Redis needs too.
--
-- Auction hash fields (written by create.lua; money in minor units, times in ms since the epoch):
--   ti title              sp starting price     mi minimum increment
--   rs reserve (0 none)   bn buy-now (0 none)   st starts_at
--   en ends_at (moves)    as anti-snipe ms (0 off)                  mx max ends_at (0 no cap)
--   sq seq                am highest amount     ld leader (0 none)
--   tp the leader's hidden maximum (proxy bidding; absent before it existed: am). Never
--      published, never in a reply: only this script reads it.
--   cl closed (0/1)       wn winner             ic increment table as JSON ('' none)
--   fx the fields that never change (sp mi rs bn st as mx), packed u64s, then the increment
--      table's rows (from u64, step u64 each): bid.lua reads this one field instead of seven
--      (+10% bids/s); the named copies serve everything else
-- The history stream has one entry per visible step, id 0-<seq>, one field d = amount u64,
-- user u32, accepted at u64, ends_at after u64, by u8 (0 the user's BID, 1 a maximum) (29
-- bytes, big-endian): packed, because four formatted fields cost ~12% of the whole batch's
-- throughput.
-- The channel gavel:{<tag>}:updates (a channel, not a key) gets one message per call holding
-- the UPDATE frames of its steps back to back (docs/protocol.md, UPDATE).
--
-- The rule (docs/protocol.md, "Proxy bidding: MAX_BID"): every change of the visible amount or
-- leader is one step (seq + 1, history, UPDATE, anti-sniping), whether the bid that caused it
-- was ACCEPTED or OUTBID (a hidden maximum answered).
--
-- Numbers: Lua numbers are doubles, exact up to 2^53, the same as the JavaScript rule. They are
-- never written with tostring() (which prints %.14g: 9007199254740991 -> 9.007199254741e+15),
-- only with string.format('%d'). All writes happen after all reads and decisions, so an error
-- (e.g. OOM on the first write) aborts the call before it changed anything.

-- RESULT status codes, src/protocol/constants.ts.
local ACCEPTED = 0
local OUTBID = 1
local UNKNOWN = 2
local CLOSED = 3
local NOT_STARTED = 4

-- UPDATE frame: type 0x06, payload length 28, then auction u32, seq u32, amount u64,
-- leader u32, ends_at u64, all big-endian. struct's I8 packs doubles up to 2^53-1 exactly.
local UPDATE_TYPE = 6
local UPDATE_PAYLOAD = 28
local UPDATE_LAYOUT = '>BBI4I4I8I4I8'
-- History entry: amount u64, user u32, accepted at u64, ends_at u64, by u8.
local HISTORY_LAYOUT = '>I8I4I8I8B'

-- What bid.lua reads: the fixed fields packed by create.lua (sp mi rs bn st as mx, each u64),
-- then the ones bids and closing change.
local FIELDS = { 'fx', 'en', 'sq', 'am', 'ld', 'cl', 'tp' }
local BID_LAYOUT = '>I4I4I8B'
local BID_SIZE = 17
local RESULT_LAYOUT = '>I4I8I4I4I8B'
local FIXED_LAYOUT = '>I8I8I8I8I8I8I8'
local INCREMENT_ROW_LAYOUT = '>I8I8'

-- Bid kinds (src/auction/bid-rule.ts BidKind) and who placed a step (StepBy).
local KIND_MAX = 1
local BY_BID = 0
local BY_MAX = 1

-- The minimum increment at price p: the step of the last table row whose from <= p, or the
-- fixed minimum increment without a table (src/auction/increments.ts).
local function inc(a, p)
  local from = a.icFrom
  if from == nil then return a.mi end
  for i = #from, 2, -1 do
    if from[i] <= p then return a.icStep[i] end
  end
  return a.icStep[1]
end

local function int(n)
  return string.format('%d', n)
end

local ENDS = KEYS[1]
local EPOCH = KEYS[2]
-- Webhooks (outbox): the stream, or false when they are off.
local OUTBOX = ARGV[3] == '1' and KEYS[#KEYS]
-- Events to append, in order: { type, auction, seq, user, amount, leader, ends_at }.
local notes = {}

if redis.call('GET', EPOCH) ~= ARGV[2] then
  return redis.error_reply('GAVELEPOCH the epoch of ' .. EPOCH .. ' changed: Redis lost this shard group\'s data')
end

local MS_PER_SECOND = 1000
local MICROS_PER_MS = 1000

-- One clock reading for the whole batch, like the other stores' one Date.now() per batch.
local time = redis.call('TIME')
local now = tonumber(time[1]) * MS_PER_SECOND + math.floor(tonumber(time[2]) / MICROS_PER_MS)

local group = string.match(ENDS, '^(.*):ends$')

-- Each auction the batch touches, read once: key -> state table, or false when it is unknown.
local auctions = {}
-- Auctions a bid changed (a step or the hidden maximum), in the order of their first change.
local changed = {}
-- Steps, in batch order: { history key, auction id, seq, amount, user, ends_at, by }.
local accepted = {}
local out = {}

local bids = ARGV[1]
local position = 1
for _ = 1, #bids / BID_SIZE do
  local keyIndex, user, amount, kind
  keyIndex, user, amount, kind, position = struct.unpack(BID_LAYOUT, bids, position)
  local key = KEYS[keyIndex]
  local a = auctions[key]
  if a == nil then
    local v = redis.call('HMGET', key, unpack(FIELDS))
    if v[1] then
      local fx = v[1]
      local sp, mi, rs, bn, st, as, mx, at = struct.unpack(FIXED_LAYOUT, fx)
      local am = tonumber(v[4])
      a = {
        id = tonumber(string.match(key, ':a:(%d+)$')),
        history = KEYS[keyIndex + 1],
        sp = sp, mi = mi, rs = rs, bn = bn, st = st, as = as, mx = mx,
        en = tonumber(v[2]), sq = tonumber(v[3]), am = am, ld = tonumber(v[5]), cl = v[6] == '1',
        tp = tonumber(v[7]) or am,
        changed = false, moved = false,
      }
      if at <= #fx then
        a.icFrom, a.icStep = {}, {}
        while at <= #fx do
          local from, step
          from, step, at = struct.unpack(INCREMENT_ROW_LAYOUT, fx, at)
          a.icFrom[#a.icFrom + 1] = from
          a.icStep[#a.icStep + 1] = step
        end
      end
    else
      a = false
    end
    auctions[key] = a
  end

  local status
  local stepped = 0

  if not a then
    status = UNKNOWN
  elseif now < a.st then
    status = NOT_STARTED
  elseif a.cl or now >= a.en then
    status = CLOSED
  else
    -- The visible state before this bid (a step is a change of it); webhooks also need the end.
    local amountBefore, leaderBefore, topBefore, endsBefore = a.am, a.ld, a.tp, a.en
    local buyNowOpen = a.bn > 0 and (a.ld == 0 or a.am < a.rs)
    if buyNowOpen and amount >= a.bn then
      -- eBay's rule: the buy-now price wins at once, at exactly that price, and ends the auction
      -- (a maximum at or above it too, the leader's included).
      a.am = a.bn
      a.ld = user
      a.tp = a.bn
      a.sq = a.sq + 1
      a.en = now
      a.moved = true
      stepped = 1
      status = ACCEPTED
    else
      if kind == KIND_MAX then
        if a.ld == user then
          -- 1. The leader raises (or restates) their own maximum: nothing visible moves.
          if amount > a.tp then a.tp = amount end
          status = ACCEPTED
        elseif a.ld == 0 then
          -- 2. The first bid: at the starting price, whatever the maximum above it.
          if amount < a.sp then
            status = OUTBID
          else
            a.ld = user
            a.tp = amount
            a.am = a.sp
            status = ACCEPTED
          end
        else
          -- 3. Against another leader's maximum: the higher leads, one increment above the
          -- lower (never above its own maximum, never below the next minimum); a tie goes to
          -- the earlier maximum.
          local nxt = a.am + inc(a, a.am)
          if amount < nxt then
            status = OUTBID
          elseif amount > a.tp then
            a.am = math.max(nxt, math.min(amount, a.tp + inc(a, a.tp)))
            a.ld = user
            a.tp = amount
            status = ACCEPTED
          else
            a.am = math.max(nxt, math.min(a.tp, amount + inc(a, amount)))
            status = OUTBID
          end
        end
        -- The leader's maximum meets the reserve: the price rises to it. (After a bid that
        -- changed nothing this holds already: every step keeps it.)
        if a.rs > 0 and a.am < a.rs and a.tp >= a.rs then a.am = a.rs end
      else
        -- A plain BID: exactly its amount, answered by another leader's maximum when that is
        -- as high.
        local nxt
        if a.ld == 0 then nxt = a.sp else nxt = a.am + inc(a, a.am) end
        if amount < nxt then
          status = OUTBID
        elseif a.ld == user or a.ld == 0 or amount > a.tp then
          if a.ld == user then
            if amount > a.tp then a.tp = amount end
          else
            a.tp = amount
          end
          a.am = amount
          a.ld = user
          status = ACCEPTED
        else
          a.am = math.min(a.tp, amount + inc(a, amount))
          status = OUTBID
        end
      end
      if a.am ~= amountBefore or a.ld ~= leaderBefore then
        a.sq = a.sq + 1
        stepped = 1
        if a.as > 0 and a.en - now < a.as then
          local extended = now + a.as
          -- max_ends_at is never before ends_at (the admin API checks), so this never shortens.
          if a.mx > 0 and a.mx < extended then extended = a.mx end
          if extended ~= a.en then
            a.en = extended
            a.moved = true
          end
        end
      end
    end
    if stepped == 1 or a.tp ~= topBefore then
      if not a.changed then
        a.changed = true
        changed[#changed + 1] = key
      end
    end
    if stepped == 1 then
      local by = BY_MAX
      if kind ~= KIND_MAX and status == ACCEPTED then by = BY_BID end
      accepted[#accepted + 1] = { a.history, a.id, a.sq, a.am, a.ld, a.en, by }
      -- Webhooks (outbox): the rule of src/auction/notification.ts (notifyBid), per step.
      if OUTBOX then
        if leaderBefore ~= 0 and leaderBefore ~= a.ld then
          notes[#notes + 1] = { 'outbid', a.id, a.sq, leaderBefore, a.am, a.ld, 0 }
        end
        if a.en > endsBefore then
          notes[#notes + 1] = { 'extended', a.id, a.sq, 0, 0, 0, a.en }
        end
      end
    end
  end

  if a then
    out[#out + 1] = struct.pack(RESULT_LAYOUT, status, a.am, a.ld, a.sq, a.en, stepped)
  else
    out[#out + 1] = struct.pack(RESULT_LAYOUT, status, 0, 0, 0, 0, 0)
  end
end

if #changed == 0 then
  return table.concat(out)
end

for _, key in ipairs(changed) do
  local a = auctions[key]
  redis.call('HSET', key, 'sq', int(a.sq), 'am', int(a.am), 'ld', int(a.ld), 'en', int(a.en), 'tp', int(a.tp))
  if a.moved then
    redis.call('ZADD', ENDS, int(a.en), int(a.id))
  end
end

if #accepted == 0 then
  return table.concat(out)
end

local frames = {}
for j, b in ipairs(accepted) do
  redis.call('XADD', b[1], '0-' .. int(b[3]), 'd', struct.pack(HISTORY_LAYOUT, b[4], b[5], now, b[6], b[7]))
  frames[j] = struct.pack(UPDATE_LAYOUT, UPDATE_TYPE, UPDATE_PAYLOAD, b[2], b[3], b[4], b[5], b[6])
end
redis.call('PUBLISH', group .. ':updates', table.concat(frames))

-- Webhooks (outbox): fields as src/store/outbox-redis.ts reads them.
for _, n in ipairs(notes) do
  redis.call('XADD', OUTBOX, '*', 't', n[1], 'a', int(n[2]), 's', int(n[3]), 'at', int(now),
    'u', int(n[4]), 'm', int(n[5]), 'l', int(n[6]), 'e', int(n[7]), 'o', '')
end

return table.concat(out)
