-- Shared by the spendguard scripts: reading buckets.
--
-- A bucket is a hash with the fields `spent` and `held`, each a count of
-- nano-dollars written as decimal digits. Lua numbers are doubles, exact
-- up to 2^53, so the store never writes more than 2^53 (it saturates
-- there) and reads anything larger, or anything not digits, as corrupt.
local SATURATED = 9007199254740992

-- Each bucket read so far: {spent, held, exists}, kept up to date as the
-- script writes, so a script that touches a bucket twice sees its own
-- writes.
local buckets = {}

local function corrupt(key, detail)
  error({corrupt = true, key = key, detail = detail})
end

local function field(key, name, value)
  if not value then
    return 0
  end
  if not string.match(value, '^%d+$') or #value > 16 or tonumber(value) > SATURATED then
    corrupt(key, 'field ' .. name .. ' is ' .. string.format('%q', string.sub(value, 1, 40))
      .. ', not a whole number of nano-dollars up to 2^53')
  end
  return tonumber(value)
end

local function bucket(key)
  local known = buckets[key]
  if known then
    return known
  end
  local reply = redis.pcall('HMGET', key, 'spent', 'held')
  if reply.err then
    corrupt(key, reply.err)
  end
  known = {
    spent = field(key, 'spent', reply[1]),
    held = field(key, 'held', reply[2]),
    exists = (reply[1] or reply[2]) and true or false,
  }
  buckets[key] = known
  return known
end

-- Spent and held summed over KEYS[first..last].
local function window(first, last)
  local spent, held = 0, 0
  for i = first, last do
    local b = bucket(KEYS[i])
    spent = spent + b.spent
    held = held + b.held
  end
  return spent, held
end

-- A count as the digits the store writes (Redis would write a large Lua
-- number as 1.5e+14).
local function digits(n)
  return string.format('%.0f', n)
end

-- A sum for the reply, as an integer. Sums stay exact up to 2^53; far
-- above every limit they are capped at 2^62, so Redis's conversion to a
-- 64-bit integer never overflows.
local function amount(n)
  return math.min(n, 4611686018427387904)
end

-- Runs `body`, turning a corrupt bucket into the reply
-- {'corrupt', key, detail} and any other error into an error reply.
local function answer(body)
  local ok, result = pcall(body)
  if ok then
    return result
  end
  if type(result) == 'table' and result.corrupt then
    return {'corrupt', result.key, result.detail}
  end
  if type(result) == 'table' and result.err then
    return redis.error_reply(result.err)
  end
  return redis.error_reply(tostring(result))
end

-- Leases. A hold under a lease is the field `l:{id}` of the bucket it is
-- held in, `amount since holder` (milliseconds of the guard's clock), and
-- the member `id` of the bucket's lease set (a sorted set whose scores
-- are the leases' expiries). A hold whose lease ran out unsettled is
-- billed: its amount moves from `held` to `spent`, and it is kept as the
-- field `id` of the bucket's orphan hash, `amount since expires holder`.

-- The parts of a lease field: amount, since, holder.
local function lease_parts(key, id, detail)
  local amount, since, holder = string.match(detail or '', '^(%d+) (%d+) (.*)$')
  if not amount or #amount > 16 then
    corrupt(key, 'the lease ' .. id .. ' is ' .. string.format('%q', string.sub(detail or '', 1, 40))
      .. ', not `amount since holder`')
  end
  return tonumber(amount), since, holder
end

-- Keeps a lease set or orphan hash as long as its bucket.
local function expire_with(key, bucket_key)
  local ttl = redis.call('PTTL', bucket_key)
  if ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  end
end

-- Bills every hold in the bucket `key` whose lease has run out by `now`.
local function sweep(key, leases, orphans, now)
  local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'WITHSCORES')
  if #expired == 0 then
    return
  end
  local b = bucket(key)
  for i = 1, #expired, 2 do
    local id, expires = expired[i], expired[i + 1]
    local amount, since, holder = lease_parts(key, id, redis.call('HGET', key, 'l:' .. id))
    b.held = math.max(0, b.held - amount)
    b.spent = math.min(SATURATED, b.spent + amount)
    redis.call('HSET', orphans, id, string.format('%.0f', amount) .. ' ' .. since .. ' ' .. expires .. ' ' .. holder)
    redis.call('HDEL', key, 'l:' .. id)
    redis.call('ZREM', leases, id)
  end
  redis.call('HSET', key, 'spent', string.format('%.0f', b.spent), 'held', string.format('%.0f', b.held))
  expire_with(orphans, key)
end
