import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { DestinationStream, LoggerOptions as PinoLoggerOptions } from 'pino';
import type { AgentClaims } from './auth/agent-principal.interface.js';

/** JWS algorithms the guard can be told to accept. `none` is deliberately absent. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA';

/** How issuer mode fetches and keeps the provider's keys. Every figure in milliseconds. */
export interface JwksOptions {
  /** A token whose `kid` is not among the keys held refetches the JWKS at most once per this. Default 30 000. */
  cooldownMs?: number;
  /** A discovery plus JWKS fetch is given up after this; no request waits longer for keys. Default 5 000. */
  timeoutMs?: number;
  /** Keys older than this are refetched in the background while they keep verifying. Default 600 000 (10 min). */
  cacheMaxAgeMs?: number;
  /**
   * How long keys fetched once keep verifying while the provider cannot be reached; past it, tokens are refused
   * until it answers again. Default 86 400 000 (24 h); at least `cacheMaxAgeMs`.
   */
  staleMaxAgeMs?: number;
}

/** Claim names, read at the top level of the token's payload: `sub`, `https://example.com/tier`, `scp`. */
export interface ClaimNames {
  /** The caller's id. Default `sub`. */
  subject?: string;
  /** The caller's tier. Default `tier`. */
  tier?: string;
  /**
   * The caller's scopes: a space-separated string or an array of strings. Default: the scopes of `scope`,
   * `scp` and `permissions` together.
   */
  scopes?: string;
}

/** What a mapping function finds in a verified token; a field left undefined comes from the default claim. */
export interface MappedClaims {
  userId?: string;
  tier?: string;
  /** A space-separated string or an array of strings. */
  scopes?: string | readonly string[];
}

export type ClaimsMapper = (claims: AgentClaims) => MappedClaims;

export interface JwtOptions {
  /** Shared secret for HS* algorithms; at least as many bytes as the hash output (RFC 7518 §3.2). */
  secret?: string | Buffer;
  /** PEM public key for RS*, PS* and ES* algorithms. */
  publicKey?: string | Buffer;
  /**
   * Accepted algorithms. Never taken from the token. Default `['HS256']`; in issuer mode every public-key
   * algorithm (RS*, PS*, ES*, EdDSA), each used only with a key of its own type, and HS* refused.
   */
  algorithms?: JwtAlgorithm[];
  /**
   * The `iss` every token must carry. Without `secret` and `publicKey` this is issuer mode: the keys come from the
   * provider's JWKS, found through OpenID Connect discovery (`<issuer>/.well-known/openid-configuration`) unless
   * `jwksUri` names it.
   */
  issuer?: string | string[];
  /** The `aud` a token must carry (one of). Required in issuer mode: a provider signs tokens for many APIs. */
  audience?: string | string[];
  /** The provider's JWKS URL, instead of discovery (issuer mode). https, or http on a loopback host. */
  jwksUri?: string;
  /** Issuer mode: how the provider's keys are fetched and kept. */
  jwks?: JwksOptions;
  /**
   * Issuer mode: which token types pass. `'any'` (default) takes a `typ` of `at+jwt`, `JWT` or none, as Auth0 and
   * Entra send access tokens as `JWT`. `'at+jwt'` takes only RFC 9068 access tokens (`typ: at+jwt`), so that an
   * OpenID ID token whose `aud` is the configured audience (a client id) cannot be used as an access token.
   */
  accessTokenType?: 'at+jwt' | 'any';
  /** Seconds of clock skew tolerated on `exp` and `nbf`. Default 0 (at most 300). */
  clockToleranceSec?: number;
  /** Refuse tokens without `exp`. Default true: a token that never expires is a permanent credential. */
  requireExp?: boolean;
  /**
   * Where the caller's id, tier and scopes come from: claim names (`{ tier: 'https://example.com/tier' }`), or a
   * function of the verified claims. Read once per verified token. Default `sub`, `tier`, and the scopes of
   * `scope`, `scp` and `permissions` together.
   */
  claims?: ClaimNames | ClaimsMapper;
  /**
   * This API's resource identifier (RFC 9728): an absolute http(s) URL. With it the module serves
   * `GET /.well-known/oauth-protected-resource` and names that document in every 401's `WWW-Authenticate`.
   * Default: the audience, when the token's issuer is a single `issuer` and `audience` is a single http(s) URL.
   */
  resource?: string;
  /**
   * The absolute URL 401s name as `resource_metadata`, for an app served behind a path prefix or a proxy that
   * rewrites paths. Default: the resource's origin, `/.well-known/oauth-protected-resource`, then the resource's path
   * (RFC 9728 §3.1).
   */
  resourceMetadataUrl?: string;
  /** Tokens longer than this are refused before any decoding. Default 4096. */
  maxTokenLength?: number;
  /**
   * Also accept the token from the `access_token` query parameter (RFC 6750 §2.3), for clients that cannot
   * send headers. Off by default: URLs end up in logs and histories. When on, the value is redacted from the
   * request's URL before anything logs it.
   */
  allowQueryToken?: boolean;
  /** Verified tokens kept in memory (until their `exp`), so a repeat caller skips the signature check. Default 10 000; 0 disables. */
  cacheSize?: number;
}

/** A token budget over a sliding window (LLM tokens, input + output). */
export interface TokenBudgetLimits {
  limit: number;
  windowMs: number;
}

/** A spending budget in US dollars over a sliding window, priced by the module's `pricing`. */
export interface CostBudgetLimits {
  /** Dollars (at most 6 decimals). */
  limitUsd: number;
  windowMs: number;
}

/** A model's prices in US dollars per million tokens (at most 6 decimals each). */
export interface ModelPrice {
  inputPerMillionUsd: number;
  outputPerMillionUsd: number;
  /** Cached input tokens, reported apart from `inputTokens`. Default: the input price. */
  cachedInputPerMillionUsd?: number;
}

/** `report`: every check is made and its headers sent, nothing is refused (see docs/budgets-and-streams.md). */
export type EnforcementMode = 'enforce' | 'report';

export interface TierLimits {
  /** Requests allowed per window. */
  limit: number;
  /** Window length in milliseconds. */
  windowMs: number;
  /** Optional LLM token budget for the tier. */
  tokens?: TokenBudgetLimits;
  /** Concurrent streams per caller. Unlimited when unset. */
  maxConcurrentStreams?: number;
  /** Optional spending budget in dollars; needs `pricing` for the models its callers use. */
  cost?: CostBudgetLimits;
  /** `report`: this tier's limits are checked and reported, never enforced (as the top-level `mode`, for one tier). */
  mode?: EnforcementMode;
}

export type StoreErrorPolicy = 'fallback' | 'allow' | 'deny';

export interface ThrottlingOptions {
  /** Redis key prefix. Default `agent-security:rl`. */
  keyPrefix?: string;
  /** What happens while Redis cannot be reached. Default `fallback` (per-instance in-memory limits). */
  onStoreError?: StoreErrorPolicy;
  /** Per-command timeout towards Redis, in ms. Default 50. */
  commandTimeoutMs?: number;
  /**
   * Send the rate-limit checks of one event-loop turn as one script call (default true). Set false when the app
   * reaches Redis through a proxy that routes each command by its keys (Envoy, twemproxy, a managed Redis without
   * the cluster API): a batch holds many callers' keys. A Redis Cluster client never batches.
   */
  batchScriptCalls?: boolean;
}

export interface StreamOptions {
  /** A concurrent-stream slot is a lease renewed while the stream lives; if an instance dies, it expires after this. Default 30 000. */
  leaseMs?: number;
}

export type CorsOrigin = string | RegExp | Array<string | RegExp> | ((origin: string | undefined) => boolean);

export interface CorsOptions {
  /** Allowed origins: exact strings, regular expressions, `*`, or a predicate. */
  origins: CorsOrigin;
  credentials?: boolean;
  methods?: string[];
  allowedHeaders?: string[];
  exposedHeaders?: string[];
  /** Seconds a browser may cache a preflight answer. */
  maxAge?: number;
}

export interface LoggingOptions {
  /** pino level. Default `info`. */
  level?: string;
  /** Extra paths to redact, added to the built-in ones (authorization, cookies, tokens). */
  redact?: string[];
  /** Keep a well-formed incoming `X-Request-ID`. Default true. */
  trustIncomingRequestId?: boolean;
  /**
   * Where the JSON lines go. A file path or a file descriptor: the module writes the lines of each turn of the
   * event loop in one write, from the main thread (BatchedDestination; see README, Request ids and logging). A pino
   * destination or any stream (`pino.destination({ ... })`, a Writable): used as it is. Default: stdout (fd 1),
   * batched the same way, unless `pino.transport` is set.
   */
  destination?: DestinationStream | string | number;
  /**
   * Any further pino options (serializers, formatters, mixin, transport, ...), merged over the module's own. Its
   * `redact` (a list or `{ paths, censor, remove }`) adds to the built-in paths: nothing here switches those off.
   */
  pino?: PinoLoggerOptions;
}

export interface AgentSecurityOptions {
  jwt: JwtOptions;
  /**
   * Limits per tier. Default: free 20/h, pro 200/h, enterprise 2000/h.
   * Given tiers replace the defaults: only the tiers given exist, and `defaultTier` must be one of them.
   */
  tiers?: Record<string, TierLimits>;
  /** Tier of callers whose token names no tier, or an unknown one; one of `tiers`. Default `free`. */
  defaultTier?: string;
  /** Limits for `@Public()` routes, per client IP. Default 60 per minute. */
  anonymous?: Pick<TierLimits, 'limit' | 'windowMs' | 'mode'>;
  /** Redis client, URL or options. Without it limits live in process memory. */
  redis?: Redis | Cluster | string | RedisOptions;
  throttling?: ThrottlingOptions;
  streams?: StreamOptions;
  /** Prices per model, for cost budgets (`tiers.X.cost`) and `usage.record(principal, { model, ... })`. */
  pricing?: Record<string, ModelPrice>;
  /**
   * `enforce` (default) refuses what a limit refuses. `report` makes every check (request windows, token and cost
   * budgets, stream caps) and sends its headers, but refuses nothing: the completion log line of a request that would
   * have been refused carries `"wouldRefuse": "<code>"`. For watching new limits before they refuse anyone.
   */
  mode?: EnforcementMode;
  logging?: LoggingOptions | false;
  cors?: CorsOptions | false;
  /**
   * The module's exception filter, which gives every error the body `{ statusCode, error, message, code, requestId }`.
   * Default true; false leaves errors to the app's own filters (or Nest's), whose bodies then have no `requestId`.
   */
  errorFilter?: boolean;
}
