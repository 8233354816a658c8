-- Hands out the next generated auction id: one after the last, within u32, wrapping to 1
-- after the largest. The caller (src/store/redis.ts) skips an id that is taken.
--
-- KEYS[1]  the id counter, gavel:auction-ids: the last id handed out
-- ARGV[1]  the floor: the highest auction id the calling node knows of (0 none)
-- ARGV[2]  the largest id, 4294967295
-- Returns  the id
--
-- A missing counter starts from the floor, not from 0: when Redis lost its data (restarted
-- empty) the counter is gone, and starting again at 1 would hand out ids the node knows were
-- used, mixing a new auction with the memory of an old one (a client's cached state, a
-- subscriber's seq). Only a missing counter: one that wrapped is below the floor on purpose.

local last = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local id = last + 1
if id > tonumber(ARGV[2]) then
  id = 1
end
redis.call('SET', KEYS[1], string.format('%d', id))
return id
