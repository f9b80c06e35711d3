
-- Settle: drop holds, add spend.
--
-- KEYS: for each settlement, its window's bucket keys, oldest first, the
-- last being the bucket it was held in.
-- ARGV holds three values per settlement: how many keys its window has,
-- the amount held, and the amount spent.
--
-- A bucket that no longer exists has outlived every window, so it is not
-- brought back. Spend saturates at 2^53 nano-dollars.
--
-- Replies {before1, after1, ...}: each window's spend before and after, or
-- {'corrupt', key, detail} having changed nothing.
return answer(function()
  -- Read every bucket first, so a corrupt one stops the script before it
  -- writes anything.
  window(1, #KEYS)

  local reply = {}
  local next_key = 1
  for i = 1, #ARGV, 3 do
    local first = next_key
    local last = next_key + tonumber(ARGV[i]) - 1
    next_key = last + 1
    local before = window(first, last)
    local key = KEYS[last]
    local b = bucket(key)
    if b.exists then
      b.held = math.max(0, b.held - tonumber(ARGV[i + 1]))
      b.spent = math.min(SATURATED, b.spent + tonumber(ARGV[i + 2]))
      redis.call('HSET', key, 'spent', digits(b.spent), 'held', digits(b.held))
    end
    local after = window(first, last)
    reply[#reply + 1] = amount(before)
    reply[#reply + 1] = amount(after)
  end
  return reply
end)
