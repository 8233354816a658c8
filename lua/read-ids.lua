-- Reads a range of one or more sorted sets of auction ids (a listing page's ids), answered as
-- one text.
--
-- KEYS     the sorted sets (groups' :live, :closed, :ends or :starts sets, or gavel:auctions;
--          on a cluster, one per call)
-- ARGV     min and max score (ZRANGEBYSCORE's syntax), then how many at most per set
-- Returns  per set, its ids in score order separated by commas, the sets separated by
--          semicolons: one string, because the client spends about a microsecond on each
--          string of a reply.

local texts = {}
for i = 1, #KEYS do
  texts[i] = table.concat(redis.call('ZRANGEBYSCORE', KEYS[i], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3]), ',')
end
return table.concat(texts, ';')
