
-- Settle: drop holds, add spend.
--
-- KEYS: for each settlement, its window's bucket keys, oldest first, the
-- last being the bucket it was held in, then that bucket's lease set and
-- orphan hash.
-- ARGV holds four values per settlement: how many bucket keys its window
-- has, the amount held, the amount spent, and the lease it was held under.
--
-- A hold found under its lease is dropped and its spend added. One whose
-- lease ran out was billed at its worst case already: only spend above
-- that is added. A bucket that no longer exists has outlived every window,
-- so it is not brought back. Spend saturates at 2^53 nano-dollars.
--
-- Replies {before1, after1, ...}: each window's spend before and after, or
-- {'corrupt', key, detail} having changed nothing.
return answer(function()
  local settlements = {}
  local next_key = 1
  for i = 1, #ARGV, 4 do
    local s = {
      first = next_key,
      last = next_key + tonumber(ARGV[i]) - 1,
      held = tonumber(ARGV[i + 1]),
      spent = tonumber(ARGV[i + 2]),
      lease = ARGV[i + 3],
    }
    s.leases = KEYS[s.last + 1]
    s.orphans = KEYS[s.last + 2]
    next_key = s.last + 3
    settlements[#settlements + 1] = s
  end
  -- Read every bucket and lease first, so a corrupt one stops the script
  -- before it writes anything.
  for _, s in ipairs(settlements) do
    window(s.first, s.last)
    if redis.call('ZSCORE', s.leases, s.lease) then
      s.leased = lease_parts(KEYS[s.last], s.lease, redis.call('HGET', KEYS[s.last], 'l:' .. s.lease))
    end
  end

  local reply = {}
  for _, s in ipairs(settlements) do
    local before = window(s.first, s.last)
    local key = KEYS[s.last]
    local b = bucket(key)
    if b.exists then
      local add = 0
      if s.leased and redis.call('ZREM', s.leases, s.lease) == 1 then
        redis.call('HDEL', key, 'l:' .. s.lease)
        b.held = math.max(0, b.held - s.leased)
        add = s.spent
      else
        local orphan = redis.call('HGET', s.orphans, s.lease)
        if orphan then
          local billed = tonumber(string.match(orphan, '^(%d+)') or '0')
          add = math.max(0, s.spent - billed)
          redis.call('HDEL', s.orphans, s.lease)
        end
      end
      b.spent = math.min(SATURATED, b.spent + add)
      redis.call('HSET', key, 'spent', digits(b.spent), 'held', digits(b.held))
    end
    local after = window(s.first, s.last)
    reply[#reply + 1] = amount(before)
    reply[#reply + 1] = amount(after)
  end
  return reply
end)
