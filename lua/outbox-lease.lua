-- Takes or keeps a shard group's webhook lease (src/store/outbox-redis.ts): the one node that
-- delivers the group's outbox while the lease lasts, so its events go out in order.
--
-- KEYS[1]  the lease, gavel:{g<n>}:outbox-lease (its value: the holding node's consumer name)
-- ARGV[1]  this node's consumer name
-- ARGV[2]  how long the lease lasts from now, ms; '0' gives it up (if held)
-- Returns  1 when this node holds the lease now, else 0.

local lease = KEYS[1]
local me = ARGV[1]
local ttl = tonumber(ARGV[2])
local holder = redis.call('GET', lease)

if ttl == 0 then
  if holder == me then redis.call('DEL', lease) end
  return 0
end
if holder and holder ~= me then
  return 0
end
redis.call('SET', lease, me, 'PX', ttl)
return 1
