/**
 * One round trip per request: prune, count, add-if-allowed and expire run inside Redis, atomically,
 * so concurrent requests from any number of app instances can never both take the last slot
 * (the seed's pipeline counted before adding and let them).
 *
 * KEYS: one sorted set per window; all in one hash slot (the caller's `{...}` tag) for Redis Cluster.
 * ARGV: member suffix unique to this request, then limit and window (ms) per key.
 * Scores are Redis's own clock in microseconds, so app instances with skewed clocks agree.
 * Returns: allowed (1/0), index of the refusing window (0-based, -1 if none), then per key
 * the count after this request and the microseconds until its oldest entry leaves the window.
 */
export const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- Lua prints numbers with 14 significant digits; scores need all 16, so they go to Redis as formatted strings.
local nowText = string.format('%.0f', now)
local n = #KEYS
local counts = {}
local blocked = -1
for i = 1, n do
  local window = tonumber(ARGV[2 * i + 1]) * 1000
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', string.format('%.0f', now - window))
  local count = redis.call('ZCARD', KEYS[i])
  counts[i] = count
  if blocked < 0 and count >= tonumber(ARGV[2 * i]) then blocked = i - 1 end
end
local out = { blocked < 0 and 1 or 0, blocked }
-- The score already holds the time; the member only has to be unique (instance id and sequence).
local member = ARGV[1]
for i = 1, n do
  local window = tonumber(ARGV[2 * i + 1]) * 1000
  local count = counts[i]
  if blocked < 0 then
    redis.call('ZADD', KEYS[i], nowText, member)
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
    count = count + 1
  end
  local reset = 0
  if count > 0 then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    reset = tonumber(oldest[2]) + window - now
  end
  out[2 + 2 * i - 1] = count
  out[2 + 2 * i] = reset
end
return out
`;
