// Each script runs atomically on Redis's clock (ms); KEYS share the caller's hash tag.

/** KEYS[1] hash of bucket -> tokens. ARGV: bucketMs, buckets. Drops aged buckets; returns used, resetMs. */
export const TOKENS_USED_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucketMs = tonumber(ARGV[1])
local buckets = tonumber(ARGV[2])
local first = math.floor(now / bucketMs) - buckets + 1
local all = redis.call('HGETALL', KEYS[1])
local used = 0
local oldest = nil
for i = 1, #all, 2 do
  local bucket = tonumber(all[i])
  if bucket < first then
    redis.call('HDEL', KEYS[1], all[i])
  else
    used = used + tonumber(all[i + 1])
    if oldest == nil or bucket < oldest then oldest = bucket end
  end
end
local reset = 0
if oldest ~= nil then reset = (oldest + buckets) * bucketMs - now end
return { used, reset }
`;

/** KEYS[1] hash of bucket -> tokens. ARGV: tokens, bucketMs, windowMs. */
export const TOKENS_RECORD_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = math.floor(now / tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], bucket, ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[2]))
return 1
`;

/**
 * KEYS[1] hash of bucket -> tokens. ARGV: bucketMs, windowMs, then bucket and tokens per bucket. Adds tokens recorded
 * elsewhere (in memory during an outage) to the buckets they were recorded in; buckets already out of the window are
 * dropped by the next read.
 */
export const TOKENS_REPLAY_SCRIPT = `
for i = 3, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[1]))
return 1
`;

/** KEYS[1] sorted set of lease id -> expiry. ARGV: leaseId, max, leaseMs. Returns 1 when a slot was taken. */
export const STREAM_ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * KEYS[1] sorted set of leases. ARGV: leaseId, leaseMs. Extends the lease of a stream still running, and puts it back
 * if it was lost (Redis restarted or failed over, or an outage outlasted the lease): the stream still holds its slot.
 */
export const STREAM_RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS[1] hash of bucket -> tokens, KEYS[2] the reservations, KEYS[3] (optional) hash of bucket -> nano-dollars.
 * ARGV: tokens, bucketMs, windowMs, reservation member, then cost, cost bucketMs, cost windowMs with KEYS[3].
 * The tokens a request spent replace what it reserved, in one step: never both counted, never neither.
 */
export const TOKENS_SETTLE_SCRIPT = `
redis.call('ZREM', KEYS[2], ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function add(key, amount, bucketMs, windowMs)
  if tonumber(amount) <= 0 then return end
  redis.call('HINCRBY', key, math.floor(now / tonumber(bucketMs)), amount)
  redis.call('PEXPIRE', key, tonumber(windowMs) + tonumber(bucketMs))
end
add(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if #KEYS > 2 then add(KEYS[3], ARGV[5], ARGV[6], ARGV[7]) end
return 1
`;

/**
 * KEYS[1] the reservations. ARGV: member, leaseMs. Extends a reservation still held (XX: one already settled or
 * expired is not put back, unlike a stream slot, since a late renewal would otherwise hold tokens after the record).
 */
export const RESERVATION_RENEW_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;
