
-- Usage: each window's spend and holds, read only.
--
-- KEYS: for each window, its bucket keys. ARGV: how many keys each window
-- has.
--
-- Replies {spent1, held1, ...} or {'corrupt', key, detail}.
return answer(function()
  local reply = {}
  local next_key = 1
  for i = 1, #ARGV do
    local first = next_key
    local last = next_key + tonumber(ARGV[i]) - 1
    next_key = last + 1
    local spent, held = window(first, last)
    reply[#reply + 1] = amount(spent)
    reply[#reply + 1] = amount(held)
  end
  return reply
end)
