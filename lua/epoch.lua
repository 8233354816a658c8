-- Reads a shard group's epoch, writing a fresh one when it is missing. The epoch is a random
-- id written once per group; every node remembers it, and a node that finds it missing or
-- different has met a Redis that lost the group's data (restarted empty, flushed): see
-- src/store/redis-epoch.ts.
--
-- KEYS[1]  the group's epoch key, gavel:{<tag>}:epoch
-- ARGV[1]  a fresh random epoch, written only if KEYS[1] is missing
-- ARGV[2]  the group's updates channel, gavel:{<tag>}:updates
-- ARGV[3]  the group number
-- Returns  the group's epoch: the one found, or ARGV[1] when it was missing.
--
-- A fresh epoch is also published on the group's channel as "gavel-epoch <n> <epoch>", ahead
-- of any UPDATE of an auction created after the loss: every node's feed sees it in order and
-- ends its subscriptions of the group before such an UPDATE could reach them (a FLUSHALL
-- cuts no connection, so no node would otherwise look).
-- On a Cluster, PUBLISH is sent as SPUBLISH (src/store/redis.ts): the channel name stays.

local NOTICE_PREFIX = 'gavel-epoch '

local found = redis.call('GET', KEYS[1])
if found then
  return found
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], NOTICE_PREFIX .. ARGV[3] .. ' ' .. ARGV[1])
return ARGV[1]
