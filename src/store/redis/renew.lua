
-- Renew: move a lease's expiry on, where it is still live.
--
-- KEYS: for each window, the bucket it holds in, its lease set and its
-- orphan hash. ARGV: the lease id, its new expiry, and now (milliseconds
-- of the guard's clock).
--
-- Each bucket is swept first, so a lease that ran out stays billed.
-- Replies 1 if the lease was live in every bucket, else 0.
return answer(function()
  local id, expires, now = ARGV[1], ARGV[2], ARGV[3]
  local live = 1
  for i = 1, #KEYS, 3 do
    sweep(KEYS[i], KEYS[i + 1], KEYS[i + 2], now)
    if redis.call('ZADD', KEYS[i + 1], 'XX', 'CH', expires, id) == 0
      and not redis.call('ZSCORE', KEYS[i + 1], id) then
      live = 0
    end
  end
  return live
end)
