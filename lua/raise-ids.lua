-- Raises the id counter to a floor: run by a node that found Redis lost data, with the highest
-- auction id it knows of, so no id it saw is handed out again (another node may have started
-- the counter again from its own, lower, knowledge).
--
-- KEYS[1]  the id counter, gavel:auction-ids
-- ARGV[1]  the floor
-- Returns  1 when raised, 0 when the counter was already at or above the floor

local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
