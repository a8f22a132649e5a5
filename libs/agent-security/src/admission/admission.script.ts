/**
 * The admission of one request on a budgeted or streamed route, in one atomic script call: the token budget, then the
 * stream slots, then the request windows are checked, and only when all allow it are the windows counted and the
 * slot taken. The checks run in the order of the refusal a caller is told about (a spent budget outranks a full
 * window), and each refusal returns before anything is written.
 *
 * A reservation (ARGV[9] >= 0) holds tokens for the request until it records what it spent: the budget must cover
 * the tokens used, the reservations in flight and this one, or the request is refused as a spent budget. Each
 * reservation is a member "<tokens>:<id>" of a sorted set scored by its lease's expiry (ms), so a request that never
 * records (its instance died) stops holding tokens once the lease runs out, and the sum needs no second key.
 *
 * KEYS: the windows (one sorted set each, scored in microseconds as SLIDING_WINDOW_SCRIPT keeps them, so plain and
 * budgeted routes share one window per caller), then the token hash (bucket -> tokens) if ARGV[3] >= 0, then the
 * reservations if ARGV[9] >= 0 (with a token budget only), then the stream leases (lease id -> expiry ms) if
 * ARGV[6] >= 0. All in the caller's hash slot.
 * ARGV: windows, member, token limit (-1: none), bucket ms, buckets, stream max (-1: none), lease id, lease ms,
 * reserve tokens (-1: none), reservation member, reservation lease ms, then limit and window (ms) per window.
 * Returns { refused (0 admitted, 1 windows, 2 tokens, 3 streams), tokens used, tokens reset ms, blocking window
 * index (-1), tokens reserved by others, then count and reset ms per window } (the windows only when checked).
 */
export const ADMISSION_SCRIPT = `
local t = redis.call('TIME')
local nowUs = t[1] * 1000000 + t[2]
local nowMs = math.floor(nowUs / 1000)
local n = tonumber(ARGV[1])
local k = n
local used, tokensReset = 0, 0

local tokenLimit = tonumber(ARGV[3])
if tokenLimit >= 0 then
  k = k + 1
  local key, bucketMs, buckets = KEYS[k], tonumber(ARGV[4]), tonumber(ARGV[5])
  local first = math.floor(nowMs / bucketMs) - buckets + 1
  local all = redis.call('HGETALL', key)
  local oldest = nil
  for i = 1, #all, 2 do
    local bucket = tonumber(all[i])
    if bucket < first then
      redis.call('HDEL', key, all[i])
    else
      used = used + tonumber(all[i + 1])
      if oldest == nil or bucket < oldest then oldest = bucket end
    end
  end
  if oldest ~= nil then tokensReset = (oldest + buckets) * bucketMs - nowMs end
end

local reserved, reservations, reserve = 0, nil, tonumber(ARGV[9])
if tokenLimit >= 0 and reserve >= 0 then
  k = k + 1
  reservations = KEYS[k]
  redis.call('ZREMRANGEBYSCORE', reservations, '-inf', string.format('%d', nowMs))
  for _, member in ipairs(redis.call('ZRANGE', reservations, '0', '-1')) do
    reserved = reserved + tonumber(string.match(member, '^(%d+):'))
  end
  if used + reserved + reserve > tokenLimit then return { 2, used, tokensReset, -1, reserved } end
elseif tokenLimit >= 0 and used >= tokenLimit then
  return { 2, used, tokensReset, -1, 0 }
end

local streams = nil
if tonumber(ARGV[6]) >= 0 then
  k = k + 1
  streams = KEYS[k]
  redis.call('ZREMRANGEBYSCORE', streams, '-inf', string.format('%d', nowMs))
  if redis.call('ZCARD', streams) >= tonumber(ARGV[6]) then return { 3, used, tokensReset, -1, reserved } end
end

local blockedBy, counts = -1, {}
for i = 1, n do
  local key, p = KEYS[i], 10 + 2 * i
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', nowUs - ARGV[p + 1] * 1000))
  counts[i] = redis.call('ZCARD', key)
  if blockedBy == -1 and counts[i] >= tonumber(ARGV[p]) then blockedBy = i - 1 end
end
local out = { blockedBy == -1 and 0 or 1, used, tokensReset, blockedBy, reserved }
local score = string.format('%d', nowUs)
for i = 1, n do
  local key, p = KEYS[i], 10 + 2 * i
  local count = counts[i]
  if blockedBy == -1 then
    redis.call('ZADD', key, score, ARGV[2])
    redis.call('PEXPIRE', key, ARGV[p + 1])
    count = count + 1
  end
  local reset = 0
  if count > 0 then reset = math.ceil((redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2] + ARGV[p + 1] * 1000 - nowUs) / 1000) end
  out[#out + 1] = count
  out[#out + 1] = reset
end
if blockedBy == -1 and streams ~= nil then
  redis.call('ZADD', streams, string.format('%d', nowMs + tonumber(ARGV[8])), ARGV[7])
  redis.call('PEXPIRE', streams, ARGV[8])
end
if blockedBy == -1 and reservations ~= nil then
  redis.call('ZADD', reservations, string.format('%d', nowMs + tonumber(ARGV[11])), ARGV[10])
  redis.call('PEXPIRE', reservations, ARGV[11])
end
return out
`;
