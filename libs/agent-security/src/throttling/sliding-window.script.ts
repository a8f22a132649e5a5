/**
 * One script call per batch of requests, at most one per request: prune, count, add-if-allowed and expire run
 * inside Redis, atomically, so concurrent requests from any number of app instances can never both take the
 * last slot (a pipeline that counts before it adds would let them). The requests of one event-loop turn share
 * a call: Redis's cost of running a script at all (setting up KEYS and ARGV, entering Lua, about two thirds of a
 * one-request call in bench/redis-instructions.mjs) and the client's cost of a command are paid once for them.
 * Inside, the requests run one after another, in arrival order, each as a call of its own would at the same instant
 * (the batch reads Redis's clock once).
 *
 * KEYS: the windows of every request in the batch, request after request: one sorted set per window, all of one
 * request in one hash slot (the caller's `{...}` tag) for Redis Cluster.
 * ARGV, per request: its number of windows, a member unique to it, then limit and window (ms) per window.
 * Scores are Redis's own clock in microseconds, so app instances with skewed clocks agree.
 * Returns one binary string, per request: the index of the refusing window (0-based, -1 if allowed), then per
 * window the count after this request and the microseconds until its oldest entry leaves the window, each a
 * little-endian double (exact for any integer below 2^53). One string rather than an array of integers: the client
 * then decodes one value per batch instead of 1 + 2n per request, which cost ioredis's RESP decoder about 3k
 * instructions each (bench/app-instructions.mjs). `struct` is part of Redis's Lua since 2.6.
 */
export const SLIDING_WINDOW_SCRIPT = `
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
-- Before 7.2, Redis turns a Lua number given to redis.call into text with %.17g: exact, but dearer than most of the
-- commands here (bench/redis-instructions.mjs). There, scores and bounds go as integer strings ('%d': exact below
-- 2^53 us, the year 2255); from 7.2 Redis writes integers as integers itself. Constants go as strings on any version.
local strings = (redis.REDIS_VERSION_NUM or 0) < 0x070200
local score = strings and string.format('%d', now) or now
local out, o, k, a = {}, 0, 0, 1
local pack = struct.pack
local last = #ARGV
while a < last do
  local n, member = tonumber(ARGV[a]), ARGV[a + 1]
  -- One window (every route without its own @Throttle): no inner loop, about 1 us less script work per request.
  if n == 1 then
    local key = KEYS[k + 1]
    local window = ARGV[a + 3] * 1000
    local bound = now - window
    if strings then bound = string.format('%d', bound) end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', bound)
    local count = redis.call('ZCARD', key)
    local allowed = count < tonumber(ARGV[a + 2])
    if allowed then
      -- The score holds the time; the member only has to be unique (instance id and sequence).
      redis.call('ZADD', key, score, member)
      redis.call('PEXPIRE', key, ARGV[a + 3])
      count = count + 1
    end
    local reset = 0
    if count > 0 then reset = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2] + window - now end
    o = o + 1
    out[o] = pack('<ddd', allowed and -1 or 0, count, reset)
  else
    local blockedBy, counts = -1, {}
    for i = 1, n do
      local key, p = KEYS[k + i], a + 2 * i
      local bound = now - ARGV[p + 1] * 1000
      if strings then bound = string.format('%d', bound) end
      redis.call('ZREMRANGEBYSCORE', key, '-inf', bound)
      local count = redis.call('ZCARD', key)
      counts[i] = count
      if blockedBy == -1 and count >= tonumber(ARGV[p]) then blockedBy = i - 1 end
    end
    o = o + 1
    out[o] = pack('<d', blockedBy)
    for i = 1, n do
      local key, p = KEYS[k + i], a + 2 * i
      local count = counts[i]
      if blockedBy == -1 then
        redis.call('ZADD', key, score, member)
        redis.call('PEXPIRE', key, ARGV[p + 1])
        count = count + 1
      end
      local reset = 0
      if count > 0 then reset = redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2] + ARGV[p + 1] * 1000 - now end
      o = o + 1
      out[o] = pack('<dd', count, reset)
    end
  end
  k = k + n
  a = a + 2 + 2 * n
end
return table.concat(out)
`;
