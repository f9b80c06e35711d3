
-- Reserve: all claims or none, under one lease.
--
-- KEYS[1] is the halt key; then, for each claim, its window's bucket keys,
-- oldest first, the last being the bucket charged, then that bucket's
-- lease set and orphan hash.
-- ARGV[1..5] is the lease: id, since, expiry (milliseconds of the guard's
-- clock), holder, and now. Then five values per claim: how many bucket
-- keys its window has, the amount, the room it asks to leave (0 for
-- none), the limit, and how long the charged bucket must live in
-- milliseconds (-1: for ever).
--
-- First every claim's charged bucket is swept of leases run out by now.
-- A granted claim also sets the fields `max` and `span` of the bucket it
-- charges, which only `spendguard status` reads.
--
-- A lease already held (the same call sent twice) is not held again.
--
-- Replies {'halted', halt} (any value at the halt key halts),
-- {'refused', index, spent, held} for the first claim that does not fit
-- (index from 0; usage without this call), else {'near', index, spent,
-- held} for the first that fits but does not leave its room (nothing is
-- held: the caller claims again without room), {'granted', spent1, held1, ...}
-- with each window's usage after its hold, or {'corrupt', key, detail}.
return answer(function()
  local halt = redis.pcall('GET', KEYS[1])
  if halt then
    if type(halt) ~= 'string' then
      halt = ''
    end
    return {'halted', halt}
  end

  local lease = {id = ARGV[1], since = ARGV[2], expires = ARGV[3], holder = ARGV[4]}
  local now = ARGV[5]
  local claims = {}
  local next_key = 2
  for i = 6, #ARGV, 5 do
    local keys = tonumber(ARGV[i])
    local claim = {
      first = next_key,
      last = next_key + keys - 1,
      leases = KEYS[next_key + keys],
      orphans = KEYS[next_key + keys + 1],
      amount = tonumber(ARGV[i + 1]),
      amount_text = ARGV[i + 1],
      room = tonumber(ARGV[i + 2]),
      max = tonumber(ARGV[i + 3]),
      max_text = ARGV[i + 3],
      span = ARGV[i],
      ttl = tonumber(ARGV[i + 4]),
    }
    next_key = next_key + keys + 2
    claims[#claims + 1] = claim
  end

  -- A reservation sent again (a cluster client resends a call whose reply
  -- was lost as a primary failed) is held once: its lease is already in
  -- the first bucket it charges.
  if #claims > 0 and redis.call('HEXISTS', KEYS[claims[1].last], 'l:' .. lease.id) == 1 then
    local reply = {'granted'}
    for _, claim in ipairs(claims) do
      local spent, held = window(claim.first, claim.last)
      reply[#reply + 1] = amount(spent)
      reply[#reply + 1] = amount(held)
    end
    return reply
  end

  for _, claim in ipairs(claims) do
    sweep(KEYS[claim.last], claim.leases, claim.orphans, now)
  end
  for index, claim in ipairs(claims) do
    local spent, held = window(claim.first, claim.last)
    if spent + held + claim.amount > claim.max then
      return {'refused', index - 1, amount(spent), amount(held)}
    end
  end
  for index, claim in ipairs(claims) do
    local spent, held = window(claim.first, claim.last)
    if claim.room > 0 and spent + held + claim.amount + claim.room > claim.max then
      return {'near', index - 1, amount(spent), amount(held)}
    end
  end

  local reply = {'granted'}
  for _, claim in ipairs(claims) do
    local key = KEYS[claim.last]
    redis.call('HINCRBY', key, 'held', claim.amount_text)
    -- For status reports: the limit and span this bucket is checked against.
    redis.call('HSET', key, 'max', claim.max_text, 'span', claim.span,
      'l:' .. lease.id, claim.amount_text .. ' ' .. lease.since .. ' ' .. lease.holder)
    local b = bucket(key)
    b.held = b.held + claim.amount
    -- The expiry is set once, by the reservation that makes the bucket:
    -- a host whose clock runs ahead never cuts a window short later.
    if not b.exists and claim.ttl >= 0 then
      redis.call('PEXPIRE', key, claim.ttl)
    end
    b.exists = true
    redis.call('ZADD', claim.leases, lease.expires, lease.id)
    expire_with(claim.leases, key)
    local spent, held = window(claim.first, claim.last)
    reply[#reply + 1] = amount(spent)
    reply[#reply + 1] = amount(held)
  end
  return reply
end)
