
-- Sweep: bill every hold in one bucket whose lease has run out.
--
-- KEYS: the bucket, its lease set and its orphan hash. ARGV: now
-- (milliseconds of the guard's clock).
--
-- Replies the orphan hash's fields and values, {id1, orphan1, ...}.
return answer(function()
  sweep(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
  return redis.call('HGETALL', KEYS[3])
end)
