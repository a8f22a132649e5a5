/**
 * The admission of one request on a budgeted or streamed route, in one atomic script call: the token budget, then the
 * stream slots, then the request windows are checked, and only when all allow it are the windows counted and the
 * slot taken. The checks run in the order of the refusal a caller is told about (a spent budget outranks a full
 * window), and each refusal returns before anything is written. The token and cost budgets are the same bucketed
 * window (a hash of bucket -> amount), summed by one function.
 *
 * A reservation (ARGV[9] >= 0) holds tokens for the request until it records what it spent: the budget must cover
 * the tokens used, the reservations in flight and this one, or the request is refused as a spent budget. Each
 * reservation is a member "<tokens>:<id>" of a sorted set scored by its lease's expiry (ms), so a request that never
 * records (its instance died) stops holding tokens once the lease runs out, and the sum needs no second key.
 *
 * KEYS: the windows (one sorted set each, scored in microseconds as SLIDING_WINDOW_SCRIPT keeps them, so plain and
 * budgeted routes share one window per caller), then the token hash (bucket -> tokens) if ARGV[3] >= 0, then the
 * reservations if ARGV[9] >= 0 (with a token budget only), then the cost hash (bucket -> nano-dollars) if
 * ARGV[12] >= 0, then the stream leases (lease id -> expiry ms) if ARGV[6] >= 0. All in the caller's hash slot.
 * ARGV: windows, member, token limit (-1: none), bucket ms, buckets, stream max (-1: none), lease id, lease ms,
 * reserve tokens (-1: none), reservation member, reservation lease ms, cost limit (-1: none), cost bucket ms, report
 * (1: check everything, refuse and take nothing less: see below), then limit and window (ms) per window.
 * Returns { refused (0 admitted, 1 windows, 2 tokens, 3 streams, 4 cost), tokens used, tokens reset ms, blocking
 * window index (-1), tokens reserved by others, cost used, cost reset ms, then count and reset ms per window } (the
 * windows only when checked).
 *
 * Report mode (ARGV[14] = 1) runs every check, whatever refused first, and then takes everything as an admission
 * does (a full request window excepted: it never counts past its limit): the first refusal found is returned for
 * the caller to log, and the request goes on.
 */
export const ADMISSION_SCRIPT = `
local t = redis.call('TIME')
local nowUs = t[1] * 1000000 + t[2]
local nowMs = math.floor(nowUs / 1000)
local n = tonumber(ARGV[1])
local k = n
local report = ARGV[14] == '1'
local refused = 0

local function bucketed(key, bucketMs, buckets)
  local first = math.floor(nowMs / bucketMs) - buckets + 1
  local all = redis.call('HGETALL', key)
  local sum, oldest = 0, nil
  for i = 1, #all, 2 do
    local bucket = tonumber(all[i])
    if bucket < first then
      redis.call('HDEL', key, all[i])
    else
      sum = sum + tonumber(all[i + 1])
      if oldest == nil or bucket < oldest then oldest = bucket end
    end
  end
  local reset = 0
  if oldest ~= nil then reset = (oldest + buckets) * bucketMs - nowMs end
  return sum, reset
end

local used, tokensReset = 0, 0
local tokenLimit = tonumber(ARGV[3])
local buckets = tonumber(ARGV[5])
if tokenLimit >= 0 then
  k = k + 1
  used, tokensReset = bucketed(KEYS[k], tonumber(ARGV[4]), buckets)
end

local reserved, reservations, reserve = 0, nil, tonumber(ARGV[9])
if tokenLimit >= 0 and reserve >= 0 then
  k = k + 1
  reservations = KEYS[k]
  redis.call('ZREMRANGEBYSCORE', reservations, '-inf', string.format('%d', nowMs))
  for _, member in ipairs(redis.call('ZRANGE', reservations, '0', '-1')) do
    reserved = reserved + tonumber(string.match(member, '^(%d+):'))
  end
  if used + reserved + reserve > tokenLimit then refused = 2 end
elseif tokenLimit >= 0 and used >= tokenLimit then
  refused = 2
end

local cost, costReset = 0, 0
local costLimit = tonumber(ARGV[12])
if costLimit >= 0 then
  k = k + 1
  cost, costReset = bucketed(KEYS[k], tonumber(ARGV[13]), buckets)
  if refused == 0 and cost >= costLimit then refused = 4 end
end
if refused ~= 0 and not report then return { refused, used, tokensReset, -1, reserved, cost, costReset } end

local streams = nil
if tonumber(ARGV[6]) >= 0 then
  k = k + 1
  streams = KEYS[k]
  redis.call('ZREMRANGEBYSCORE', streams, '-inf', string.format('%d', nowMs))
  if refused == 0 and redis.call('ZCARD', streams) >= tonumber(ARGV[6]) then
    refused = 3
    if not report then return { 3, used, tokensReset, -1, reserved, cost, costReset } end
  end
end

local blockedBy, counts = -1, {}
for i = 1, n do
  local key, p = KEYS[i], 13 + 2 * i
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', nowUs - ARGV[p + 1] * 1000))
  counts[i] = redis.call('ZCARD', key)
  if blockedBy == -1 and counts[i] >= tonumber(ARGV[p]) then blockedBy = i - 1 end
end
if refused == 0 and blockedBy ~= -1 then refused = 1 end
local take = refused == 0 or report
local out = { refused, used, tokensReset, blockedBy, reserved, cost, costReset }
local score = string.format('%d', nowUs)
for i = 1, n do
  local key, p = KEYS[i], 13 + 2 * i
  local count = counts[i]
  if take and blockedBy == -1 then
    redis.call('ZADD', key, score, ARGV[2])
    redis.call('PEXPIRE', key, ARGV[p + 1])
    count = count + 1
  end
  local reset = 0
  if count > 0 then reset = math.ceil((redis.call('ZRANGE', key, '0', '0', 'WITHSCORES')[2] + ARGV[p + 1] * 1000 - nowUs) / 1000) end
  out[#out + 1] = count
  out[#out + 1] = reset
end
if take and streams ~= nil then
  redis.call('ZADD', streams, string.format('%d', nowMs + tonumber(ARGV[8])), ARGV[7])
  redis.call('PEXPIRE', streams, ARGV[8])
end
if take and reservations ~= nil then
  redis.call('ZADD', reservations, string.format('%d', nowMs + tonumber(ARGV[11])), ARGV[10])
  redis.call('PEXPIRE', reservations, ARGV[11])
end
return out
`;
