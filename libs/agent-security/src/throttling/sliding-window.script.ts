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
local now = t[1] * 1000000 + t[2]
-- Before 7.2, Redis turns a Lua number given to redis.call into text with %.17g: exact, but dearer than most of the
-- commands here (bench/redis-instructions.mjs). There, scores and bounds go as integer strings ('%d': exact below
-- 2^53 us, the year 2255); from 7.2 Redis writes integers as integers itself. Constants go as strings on any version.
local strings = (redis.REDIS_VERSION_NUM or 0) < 0x070200
-- One window (every route without its own @Throttle): no loop and no tables, about 1 us less script overhead per call.
if #KEYS == 1 then
  local key = KEYS[1]
  local window = ARGV[3] * 1000
  local bound, score = now - window, now
  if strings then bound, score = string.format('%d', bound), string.format('%d', score) end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', bound)
  local count = redis.call('ZCARD', key)
  local allowed = count < tonumber(ARGV[2])
  if allowed then
    -- The score holds the time; the member only has to be unique (instance id and sequence).
    redis.call('ZADD', key, score, ARGV[1])
    redis.call('PEXPIRE', key, ARGV[3])
    count = count + 1
  end
  local reset = 0
  if count > 0 then reset = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2] + window - now end
  if allowed then return { 1, -1, count, reset } end
  return { 0, 0, count, reset }
end
local out = { 1, -1 }
for i = 1, #KEYS do
  local bound = now - ARGV[2 * i + 1] * 1000
  if strings then bound = string.format('%d', bound) end
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', bound)
  local count = redis.call('ZCARD', KEYS[i])
  out[2 * i + 1] = count
  if out[1] == 1 and count >= tonumber(ARGV[2 * i]) then
    out[1] = 0
    out[2] = i - 1
  end
end
local allowed = out[1] == 1
local score = strings and string.format('%d', now) or now
for i = 1, #KEYS do
  local count = out[2 * i + 1]
  if allowed then
    redis.call('ZADD', KEYS[i], score, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
    count = count + 1
    out[2 * i + 1] = count
  end
  local reset = 0
  if count > 0 then reset = redis.call('ZRANGE', KEYS[i], '0', '0', 'WITHSCORES')[2] + ARGV[2 * i + 1] * 1000 - now end
  out[2 * i + 2] = reset
end
return out
`;
