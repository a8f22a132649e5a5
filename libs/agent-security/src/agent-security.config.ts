import { Logger } from '@nestjs/common';
import type {
  AgentSecurityOptions,
  CorsOptions,
  JwtAlgorithm,
  JwtOptions,
  EnforcementMode,
  LoggingOptions,
  ModelPrice,
  StoreErrorPolicy,
  TierLimits,
} from './agent-security-options.interface.js';
import { microUsd, resolvePrice, type ResolvedPrice } from './usage/cost.js';
import { ANONYMOUS_TIER, DEFAULT_ANONYMOUS_LIMITS, DEFAULT_TIER, DEFAULT_TIERS } from './agent-security.constants.js';
import type { AgentClaims } from './auth/agent-principal.interface.js';
import { claimsMapping, type CallerClaims } from './auth/claims-mapping.js';
import { keyUrlProblem } from './auth/keys/key-url.js';
import { absoluteHttpUrl, protectedResourceMetadataUrl } from './auth/protected-resource.js';
import { unknownOptions } from './options/unknown-options.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from './throttling/redis-connection.js';

/** Options after validation, with every default filled in. Built once at start-up. */
/** Issuer mode's key source: where the JWKS is and how it is kept. */
export interface JwksConfig {
  /** The issuer discovery starts from; undefined when `jwksUri` was given. */
  readonly discoveryIssuer?: string;
  readonly jwksUri?: string;
  readonly cooldownMs: number;
  readonly timeoutMs: number;
  readonly cacheMaxAgeMs: number;
  readonly staleMaxAgeMs: number;
}

export interface AgentSecurityConfig {
  readonly jwt: {
    /** The secret or the PEM key; undefined in issuer mode. */
    readonly key?: string | Buffer;
    /** Set in issuer mode only (keys from the provider's JWKS): its presence is what "issuer mode" means. */
    readonly jwks?: JwksConfig;
    readonly algorithms: JwtAlgorithm[];
    readonly issuer?: string | string[];
    readonly audience?: string | string[];
    readonly clockToleranceSec: number;
    readonly requireExp: boolean;
    /** Issuer mode: `at+jwt` takes RFC 9068 access tokens only; `any` also a `typ` of JWT or none. */
    readonly accessTokenType: 'at+jwt' | 'any';
    /** Reads the caller's id, tier and scopes off verified claims (jwt.claims). */
    readonly claims: (claims: AgentClaims) => CallerClaims;
    /** RFC 9728 resource identifier; undefined when the API publishes no metadata. */
    readonly resource?: string;
    /** Absolute URL of the metadata document, named in 401s; set whenever `resource` is. */
    readonly resourceMetadataUrl?: string;
    readonly maxTokenLength: number;
    readonly cacheSize: number;
    readonly allowQueryToken: boolean;
  };
  readonly tiers: ReadonlyMap<string, Readonly<TierLimits>>;
  /** Each tier's cost budget in nano-dollars (tiers without one are absent). */
  readonly costBudgets: ReadonlyMap<string, { readonly limitNanoUsd: number; readonly windowMs: number }>;
  /** Prices per model, in micro-dollars per million tokens. */
  readonly pricing: ReadonlyMap<string, ResolvedPrice>;
  /** `report`: checks are made and their headers sent, nothing is refused. */
  readonly mode: EnforcementMode;
  readonly defaultTier: string;
  readonly anonymous: Readonly<TierLimits>;
  readonly redis?: AgentSecurityOptions['redis'];
  readonly throttling: {
    readonly keyPrefix: string;
    readonly onStoreError: StoreErrorPolicy;
    readonly commandTimeoutMs: number;
    readonly batchScriptCalls: boolean;
  };
  readonly streams: { readonly leaseMs: number };
  readonly logging: LoggingOptions | false;
  readonly cors: CorsOptions | false;
  readonly errorFilter: boolean;
}

const MAX_CLOCK_TOLERANCE_SEC = 300;
const HMAC_MIN_BYTES: Record<string, number> = { HS256: 32, HS384: 48, HS512: 64 };
/** Every public-key algorithm: what issuer mode accepts when `jwt.algorithms` is not given. */
const ISSUER_MODE_ALGORITHMS: JwtAlgorithm[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];
const KNOWN_ALGORITHMS = new Set<string>(['HS256', 'HS384', 'HS512', ...ISSUER_MODE_ALGORITHMS]);
function checkKeyUrl(option: string, value: string): void {
  const problem = keyUrlProblem(value);
  if (problem !== undefined) fail(option, problem);
}

function checkMs(option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!isNonNegativeInteger(value) || value < min)
    fail(option, `must be a whole number of milliseconds >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}

/** A non-empty string, or a non-empty list of them (`iss` and `aud` take either). */
function isNameOrNames(value: unknown): boolean {
  const isName = (item: unknown) => typeof item === 'string' && item !== '';
  return Array.isArray(value) ? value.length > 0 && value.every(isName) : isName(value);
}

/** Issuer mode: no secret, no PEM key, and an issuer (or a JWKS URL) to take the keys from. */
function checkIssuerMode(jwt: AgentSecurityOptions['jwt']): JwksConfig {
  const { issuer, jwksUri, audience } = jwt;
  if (!isNameOrNames(issuer)) {
    fail(
      'jwt.issuer',
      'is required in issuer mode, as the provider\'s issuer (or a list of them with jwt.jwksUri): every token\'s "iss" is checked against it',
    );
  }
  if (!isNameOrNames(audience)) {
    fail(
      'jwt.audience',
      'is required in issuer mode (no secret or publicKey): a provider signs tokens for many APIs, and only those for this one may pass (the API identifier or client id the provider puts in "aud")',
    );
  }
  if (jwksUri !== undefined) {
    if (typeof jwksUri !== 'string') fail('jwt.jwksUri', 'must be a URL string');
    checkKeyUrl('jwt.jwksUri', jwksUri);
  } else {
    if (typeof issuer !== 'string')
      fail('jwt.issuer', 'must be one issuer for discovery; with several, set jwt.jwksUri');
    checkKeyUrl('jwt.issuer', issuer);
  }
  const jwks = jwt.jwks ?? {};
  if (typeof jwks !== 'object' || jwks === null)
    fail('jwt.jwks', 'expected { cooldownMs, timeoutMs, cacheMaxAgeMs, staleMaxAgeMs }');
  const cooldownMs = checkMs('jwt.jwks.cooldownMs', jwks.cooldownMs, 30_000, 0);
  const timeoutMs = checkMs('jwt.jwks.timeoutMs', jwks.timeoutMs, 5_000, 1);
  const cacheMaxAgeMs = checkMs('jwt.jwks.cacheMaxAgeMs', jwks.cacheMaxAgeMs, 600_000, 1);
  const staleMaxAgeMs = checkMs(
    'jwt.jwks.staleMaxAgeMs',
    jwks.staleMaxAgeMs,
    Math.max(86_400_000, cacheMaxAgeMs),
    cacheMaxAgeMs,
  );
  return Object.freeze({
    discoveryIssuer: jwksUri === undefined ? (issuer as string) : undefined,
    jwksUri,
    cooldownMs,
    timeoutMs,
    cacheMaxAgeMs,
    staleMaxAgeMs,
  });
}
const STORE_ERROR_POLICIES = new Set<string>(['fallback', 'allow', 'deny']);

export class AgentSecurityConfigError extends Error {
  constructor(option: string, problem: string) {
    super(`AgentSecurityModule: invalid option "${option}": ${problem}`);
    this.name = 'AgentSecurityConfigError';
  }
}

function fail(option: string, problem: string): never {
  throw new AgentSecurityConfigError(option, problem);
}

/**
 * A switch given as anything but true or false is refused: `'false'` from an environment variable is truthy, and
 * `0` or `''` falsy, so either would silently mean the opposite of what was written for some of them.
 */
function checkBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    fail(
      option,
      `must be true or false, got ${JSON.stringify(value)}${typeof value === 'string' ? ' (a string)' : ''}`,
    );
  return value;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function checkTier(option: string, tier: unknown): TierLimits {
  if (typeof tier !== 'object' || tier === null) fail(option, 'expected { limit, windowMs }');
  const { limit, windowMs, tokens, maxConcurrentStreams } = tier as TierLimits;
  if (typeof limit !== 'number' || Number.isNaN(limit))
    fail(`${option}.limit`, `expected a number, got ${JSON.stringify(limit)}`);
  if (!isNonNegativeInteger(limit)) fail(`${option}.limit`, `must be a whole number >= 0, got ${limit}`);
  if (typeof windowMs !== 'number' || Number.isNaN(windowMs))
    fail(`${option}.windowMs`, `expected a number of milliseconds, got ${JSON.stringify(windowMs)}`);
  if (!Number.isInteger(windowMs) || windowMs <= 0)
    fail(`${option}.windowMs`, `must be a whole number of milliseconds > 0, got ${windowMs}`);
  if (tokens !== undefined) {
    if (typeof tokens !== 'object' || tokens === null) fail(`${option}.tokens`, 'expected { limit, windowMs }');
    if (!isNonNegativeInteger(tokens.limit))
      fail(`${option}.tokens.limit`, `must be a whole number >= 0, got ${JSON.stringify(tokens.limit)}`);
    if (!isNonNegativeInteger(tokens.windowMs) || tokens.windowMs === 0)
      fail(
        `${option}.tokens.windowMs`,
        `must be a whole number of milliseconds > 0, got ${JSON.stringify(tokens.windowMs)}`,
      );
  }
  const mode = (tier as TierLimits).mode;
  if (mode !== undefined && mode !== 'enforce' && mode !== 'report')
    fail(`${option}.mode`, `must be "enforce" or "report", got ${JSON.stringify(mode)}`);
  const cost = (tier as TierLimits).cost;
  if (cost !== undefined) {
    if (typeof cost !== 'object' || cost === null) fail(`${option}.cost`, 'expected { limitUsd, windowMs }');
    const micro = microUsd(cost.limitUsd);
    if (micro === undefined)
      fail(
        `${option}.cost.limitUsd`,
        `must be dollars >= 0 with at most 6 decimals, up to 9000000, got ${JSON.stringify(cost.limitUsd)}`,
      );
    if (!isNonNegativeInteger(cost.windowMs) || cost.windowMs === 0)
      fail(
        `${option}.cost.windowMs`,
        `must be a whole number of milliseconds > 0, got ${JSON.stringify(cost.windowMs)}`,
      );
  }
  if (
    maxConcurrentStreams !== undefined &&
    (!isNonNegativeInteger(maxConcurrentStreams) || maxConcurrentStreams === 0)
  ) {
    fail(`${option}.maxConcurrentStreams`, `must be a whole number > 0, got ${JSON.stringify(maxConcurrentStreams)}`);
  }
  return Object.freeze({ ...(tier as TierLimits) });
}

function checkPricing(pricing: unknown): Map<string, ResolvedPrice> {
  const prices = new Map<string, ResolvedPrice>();
  if (pricing === undefined) return prices;
  if (typeof pricing !== 'object' || pricing === null || Array.isArray(pricing))
    fail('pricing', 'expected { [model]: { inputPerMillionUsd, outputPerMillionUsd } }');
  for (const [model, price] of Object.entries(pricing)) {
    if (typeof price !== 'object' || price === null)
      fail(`pricing.${model}`, 'expected { inputPerMillionUsd, outputPerMillionUsd, cachedInputPerMillionUsd? }');
    const resolved = resolvePrice(price as ModelPrice);
    if (resolved === undefined) {
      const { inputPerMillionUsd, outputPerMillionUsd, cachedInputPerMillionUsd } = price as ModelPrice;
      fail(
        `pricing.${model}`,
        `prices must be dollars per million tokens >= 0 with at most 6 decimals, got input ${JSON.stringify(inputPerMillionUsd)}, output ${JSON.stringify(outputPerMillionUsd)}, cached input ${JSON.stringify(cachedInputPerMillionUsd)}`,
      );
    }
    prices.set(model, resolved);
  }
  return prices;
}

function checkJwt(options: AgentSecurityOptions): AgentSecurityConfig['jwt'] {
  const jwt = options.jwt;
  if (typeof jwt !== 'object' || jwt === null) fail('jwt', 'is required');
  const hasKey = (value: unknown) => value !== undefined && value !== null && value !== '';
  // `secret: process.env.JWT_SECRET` with the variable unset would otherwise switch an app that names an issuer to
  // issuer mode in silence, and every token it mints itself would be refused.
  for (const name of ['secret', 'publicKey'] as const) {
    if (Object.hasOwn(jwt, name) && !hasKey(jwt[name])) {
      fail(
        `jwt.${name}`,
        `is ${JSON.stringify(jwt[name]) ?? 'undefined'} (an unset environment variable?); give a value, or leave the key out for issuer mode`,
      );
    }
  }
  const issuerMode =
    !hasKey(jwt.secret) && !hasKey(jwt.publicKey) && (jwt.issuer !== undefined || jwt.jwksUri !== undefined);
  if (!issuerMode) {
    if (jwt.jwksUri !== undefined)
      fail(
        'jwt.jwksUri',
        `cannot be combined with jwt.${hasKey(jwt.secret) ? 'secret' : 'publicKey'}: tokens are verified with one kind of key`,
      );
    if (jwt.jwks !== undefined)
      fail('jwt.jwks', 'applies in issuer mode only (jwt.issuer without secret or publicKey)');
    if (jwt.accessTokenType !== undefined)
      fail('jwt.accessTokenType', 'applies in issuer mode only (jwt.issuer without secret or publicKey)');
  }
  const algorithms = jwt.algorithms ?? (issuerMode ? ISSUER_MODE_ALGORITHMS : ['HS256']);
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('jwt.algorithms', 'must be a non-empty list');
  for (const alg of algorithms) {
    if (!KNOWN_ALGORITHMS.has(alg))
      fail('jwt.algorithms', `unknown algorithm ${JSON.stringify(alg)} (known: ${[...KNOWN_ALGORITHMS].join(', ')})`);
  }
  const hmac = algorithms.filter((alg) => alg.startsWith('HS'));
  const asymmetric = algorithms.length - hmac.length;
  if (hmac.length && asymmetric)
    fail('jwt.algorithms', 'mixes HMAC and public-key algorithms; a public key must never be usable as an HMAC secret');
  let key: string | Buffer | undefined;
  let jwks: JwksConfig | undefined;
  if (issuerMode) {
    if (hmac.length)
      fail(
        'jwt.algorithms',
        `${hmac.join('/')} is refused in issuer mode: a provider's keys are public, and an HMAC "signed" with one proves nothing`,
      );
    jwks = checkIssuerMode(jwt);
  } else if (hmac.length) {
    if (jwt.secret === undefined || jwt.secret === null || jwt.secret === '')
      fail('jwt.secret', 'is required for HS* algorithms');
    if (typeof jwt.secret !== 'string' && !Buffer.isBuffer(jwt.secret))
      fail('jwt.secret', 'must be a string or a Buffer');
    const bytes = typeof jwt.secret === 'string' ? Buffer.byteLength(jwt.secret) : jwt.secret.length;
    const needed = Math.max(...hmac.map((alg) => HMAC_MIN_BYTES[alg]));
    if (bytes < needed)
      fail('jwt.secret', `is ${bytes} bytes; ${hmac.join('/')} needs at least ${needed} (RFC 7518 §3.2)`);
    key = jwt.secret;
  } else {
    if (!jwt.publicKey) fail('jwt.publicKey', `is required for ${algorithms.join('/')}`);
    if (algorithms.includes('EdDSA'))
      fail('jwt.algorithms', 'EdDSA is verified in issuer mode only (keys from a JWKS), not with a PEM publicKey');
    key = jwt.publicKey;
  }
  const clockToleranceSec = jwt.clockToleranceSec ?? 0;
  if (typeof clockToleranceSec !== 'number' || !Number.isFinite(clockToleranceSec) || clockToleranceSec < 0) {
    fail(
      'jwt.clockToleranceSec',
      `must be a finite number of seconds from 0 to ${MAX_CLOCK_TOLERANCE_SEC}, got ${typeof clockToleranceSec === 'number' ? clockToleranceSec : JSON.stringify(clockToleranceSec)}`,
    );
  }
  // Clocks of servers kept by NTP differ by far less; a tolerance of hours would keep expired tokens alive as long.
  if (clockToleranceSec > MAX_CLOCK_TOLERANCE_SEC) {
    fail(
      'jwt.clockToleranceSec',
      `is ${clockToleranceSec} seconds; at most ${MAX_CLOCK_TOLERANCE_SEC} is accepted, as an expired token is accepted that much longer`,
    );
  }
  const maxTokenLength = jwt.maxTokenLength ?? 4096;
  if (!isNonNegativeInteger(maxTokenLength) || maxTokenLength < 64)
    fail('jwt.maxTokenLength', 'must be a whole number >= 64');
  const cacheSize = jwt.cacheSize ?? 10_000;
  if (!isNonNegativeInteger(cacheSize)) fail('jwt.cacheSize', 'must be a whole number >= 0');
  const requireExp = checkBoolean('jwt.requireExp', jwt.requireExp, true);
  const accessTokenType = jwt.accessTokenType ?? 'any';
  if (accessTokenType !== 'at+jwt' && accessTokenType !== 'any') {
    fail('jwt.accessTokenType', `must be "at+jwt" or "any", got ${JSON.stringify(accessTokenType)}`);
  }
  const allowQueryToken = checkBoolean('jwt.allowQueryToken', jwt.allowQueryToken, false);
  const claims = checkClaims(jwt.claims);
  const { resource, resourceMetadataUrl } = checkResource(jwt, hmac.length > 0);
  return Object.freeze({
    key,
    jwks,
    algorithms: [...algorithms],
    issuer: jwt.issuer,
    audience: jwt.audience,
    clockToleranceSec,
    requireExp,
    accessTokenType,
    claims,
    resource,
    resourceMetadataUrl,
    maxTokenLength,
    cacheSize,
    allowQueryToken,
  });
}

function checkClaims(option: JwtOptions['claims']): AgentSecurityConfig['jwt']['claims'] {
  if (option !== undefined && typeof option !== 'function') {
    if (typeof option !== 'object' || option === null)
      fail('jwt.claims', 'must be claim names { subject, tier, scopes } or a function of the claims');
    for (const field of ['subject', 'tier', 'scopes'] as const) {
      const name = option[field];
      if (name !== undefined && (typeof name !== 'string' || name === ''))
        fail(`jwt.claims.${field}`, 'must be a non-empty claim name');
    }
  }
  return claimsMapping(option);
}

function checkResource(jwt: JwtOptions, sharedSecret: boolean): { resource?: string; resourceMetadataUrl?: string } {
  let resource = jwt.resource;
  if (resource !== undefined) {
    if (absoluteHttpUrl(resource) === undefined)
      fail(
        'jwt.resource',
        `must be an absolute http(s) URL without a fragment (RFC 9728), got ${JSON.stringify(resource)}`,
      );
  } else if (
    !sharedSecret &&
    typeof jwt.issuer === 'string' &&
    typeof jwt.audience === 'string' &&
    absoluteHttpUrl(jwt.audience) !== undefined
  ) {
    // Tokens signed by one authorization server for one audience: that audience is the resource they are for
    // (RFC 8707). Not with a shared secret: no authorization server to point a client to.
    resource = jwt.audience;
  }
  let resourceMetadataUrl = jwt.resourceMetadataUrl;
  if (resourceMetadataUrl !== undefined) {
    if (resource === undefined) fail('jwt.resourceMetadataUrl', 'needs jwt.resource');
    const url = absoluteHttpUrl(resourceMetadataUrl);
    if (url === undefined)
      fail('jwt.resourceMetadataUrl', `must be an absolute http(s) URL, got ${JSON.stringify(resourceMetadataUrl)}`);
    // Serialized: it is quoted in a header, and a URL's serialization escapes quotes.
    resourceMetadataUrl = url.href;
  } else if (resource !== undefined) {
    resourceMetadataUrl = protectedResourceMetadataUrl(resource);
  }
  return { resource, resourceMetadataUrl };
}

const isStringList = (value: unknown): boolean =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');
const isPathList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '');

function serializedOrigin(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** A pattern's top-level alternatives (`a|b`, outside groups and classes), as written. */
function alternatives(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
    } else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(source.slice(start));
  return parts;
}

/** Each alternative starts with `^` and ends with a `$` that is not escaped. */
function isAnchored(pattern: RegExp): boolean {
  return alternatives(pattern.source).every((part) => {
    if (!part.startsWith('^') || !part.endsWith('$')) return false;
    let backslashes = 0;
    for (let i = part.length - 2; i >= 0 && part[i] === '\\'; i--) backslashes++;
    return backslashes % 2 === 0;
  });
}

/** Origins no allow-list means to name: a pattern that matches one of them lets in any site, "*" in disguise. */
const PROBE_ORIGINS = ['https://agent-security-probe.invalid', 'http://agent-security-probe.invalid'];

/** Whether a credentials pattern lets in "null" or an origin nobody listed; without g/y, whose lastIndex would skew test(). */
function overBroadMatch(pattern: RegExp): string | undefined {
  const probe = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return ['null', ...PROBE_ORIGINS].find((origin) => probe.test(origin));
}

/** A CORS mistake would otherwise show only in a browser, as every origin refused. */
function checkCors(cors: CorsOptions): void {
  if (typeof cors !== 'object' || cors === null)
    fail('cors', `expected { origins, ... } or false, got ${JSON.stringify(cors)}`);
  checkBoolean('cors.credentials', cors.credentials, false);
  const { origins } = cors;
  if (typeof origins !== 'function') {
    const list: unknown[] = Array.isArray(origins) ? origins : [origins];
    if (
      origins === undefined ||
      list.length === 0 ||
      !list.every((o) => (typeof o === 'string' && o !== '') || o instanceof RegExp)
    ) {
      const hint = 'origin' in cors ? ' (the option is "origins", not "origin")' : '';
      fail(
        'cors.origins',
        `expected an origin, a RegExp, "*", a list of them, or a predicate${hint}; got ${JSON.stringify(origins)}`,
      );
    }
    for (const origin of list) {
      if (typeof origin !== 'string' || origin === '*' || origin === 'null') continue;
      // A browser sends the origin serialized (scheme://host[:port], lower case, no path): anything else never matches.
      const meant = serializedOrigin(origin);
      if (meant !== origin) {
        fail(
          'cors.origins',
          `${JSON.stringify(origin)} is not an origin as browsers send it${meant === undefined ? ' (scheme://host[:port])' : `; did you mean ${JSON.stringify(meant)}?`}`,
        );
      }
    }
    if (cors.credentials && list.includes('*')) {
      fail(
        'cors.origins',
        '"*" cannot be combined with credentials: true (browsers reject that answer); list the allowed origins',
      );
    }
    if (cors.credentials && list.includes('null')) {
      fail(
        'cors.origins',
        '"null" cannot be combined with credentials: true: every sandboxed iframe, file: page and redirected request of any site sends ' +
          '"Origin: null", and all of them would be let in with the user\'s cookies; list the allowed origins',
      );
    }
    for (const origin of list) {
      if (!cors.credentials || !(origin instanceof RegExp)) continue;
      const matched = overBroadMatch(origin);
      if (matched === 'null') {
        fail(
          'cors.origins',
          `the pattern ${String(origin)} matches "null", which cannot be combined with credentials: true: every sandboxed iframe, ` +
            'file: page and redirected request of any site sends "Origin: null"; take it out of the pattern',
        );
      }
      if (matched !== undefined) {
        fail(
          'cors.origins',
          `the pattern ${String(origin)} matches ${JSON.stringify(matched)}, so it lets in any site: that is "*", which cannot be ` +
            'combined with credentials: true; match the allowed origins only',
        );
      }
    }
    for (const origin of list) {
      if (origin instanceof RegExp && !isAnchored(origin)) {
        new Logger('AgentSecurity').warn(
          `cors.origins: the pattern ${String(origin)} is not anchored with ^ and $: it also lets in origins that merely contain a match ` +
            '(/app\\.example\\.com/ matches https://app.example.com.evil.example); write it as /^https:\\/\\/app\\.example\\.com$/',
        );
      }
    }
  }
  for (const name of ['methods', 'allowedHeaders', 'exposedHeaders'] as const) {
    if (cors[name] !== undefined && !isStringList(cors[name]))
      fail(`cors.${name}`, `expected a list of strings, got ${JSON.stringify(cors[name])}`);
  }
  if (cors.maxAge !== undefined && !isNonNegativeInteger(cors.maxAge))
    fail('cors.maxAge', 'must be a whole number of seconds >= 0');
}

const PINO_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** Nest's level names, which pino does not know. */
const NEST_LEVELS: Record<string, string> = { log: 'info', verbose: 'trace' };

/** pino would throw on an unknown level only when the logger is built, with a message that names no option. */
function checkLogLevel(logging: LoggingOptions): void {
  const level: unknown = logging.level;
  if (level === undefined) return;
  const custom = logging.pino?.customLevels;
  const known = [...PINO_LEVELS, ...(typeof custom === 'object' && custom !== null ? Object.keys(custom) : [])];
  if (typeof level === 'string' && known.includes(level)) return;
  const hint =
    typeof level === 'string' && NEST_LEVELS[level] !== undefined
      ? `; "${level}" is Nest's name, pino's is "${NEST_LEVELS[level]}"`
      : '';
  fail('logging.level', `must be one of ${known.join(', ')}, got ${JSON.stringify(level)}${hint}`);
}

function checkLogging(logging: AgentSecurityOptions['logging']): LoggingOptions | false {
  if (logging === undefined) return {};
  if (logging === false) return false;
  if (typeof logging !== 'object' || logging === null || Array.isArray(logging))
    fail('logging', `expected { level, redact, ... } or false, got ${JSON.stringify(logging)}`);
  checkBoolean('logging.trustIncomingRequestId', logging.trustIncomingRequestId, true);
  checkLogLevel(logging);
  // A single string would be spread into its characters and redact nothing.
  if (logging.redact !== undefined && !isPathList(logging.redact)) {
    fail(
      'logging.redact',
      `expected a list of paths (strings), got ${JSON.stringify(logging.redact)}${typeof logging.redact === 'string' ? `; write [${JSON.stringify(logging.redact)}]` : ''}`,
    );
  }
  const pino: unknown = logging.pino;
  if (pino !== undefined && (typeof pino !== 'object' || pino === null))
    fail('logging.pino', `expected pino options (an object), got ${JSON.stringify(pino)}`);
  const pinoRedact = (pino as { redact?: unknown } | undefined)?.redact;
  if (pinoRedact !== undefined && !isPathList(pinoRedact)) {
    const redact = pinoRedact as { paths?: unknown; censor?: unknown; remove?: unknown };
    const expected = 'expected a list of paths (strings) or { paths: string[], censor?, remove? }';
    if (typeof redact !== 'object' || redact === null || Array.isArray(redact))
      fail('logging.pino.redact', `${expected}, got ${JSON.stringify(redact)}`);
    if (!isPathList(redact.paths))
      fail('logging.pino.redact.paths', `expected a list of paths (strings), got ${JSON.stringify(redact.paths)}`);
    if (redact.censor !== undefined && typeof redact.censor !== 'string' && typeof redact.censor !== 'function') {
      fail('logging.pino.redact.censor', `must be a string or a function, got ${JSON.stringify(redact.censor)}`);
    }
    checkBoolean('logging.pino.redact.remove', redact.remove, false);
  }
  return logging;
}

/**
 * A misspelt key would otherwise be dropped in silence, and with it what it meant to turn on (an audience check, a
 * tier, a budget); the compiler does not catch it in a `forRootAsync` factory or in options typed loosely.
 */
function checkKnownKeys(options: unknown): void {
  const unknown = unknownOptions(options);
  if (unknown.length === 0) return;
  const [first, ...others] = unknown.map(({ path, suggestion }) => ({
    path,
    problem: `is not an option${suggestion === undefined ? '' : `; did you mean "${suggestion}"?`}`,
  }));
  const more =
    others.length === 0 ? '' : ` (also: ${others.map(({ path, problem }) => `"${path}" ${problem}`).join('; ')})`;
  fail(first.path, first.problem + more);
}

/** Validates the options once, at start-up, so a mistake never surfaces as a 500 on the first request. */
export function resolveAgentSecurityConfig(options: AgentSecurityOptions): AgentSecurityConfig {
  if (typeof options !== 'object' || options === null)
    fail('options', 'AgentSecurityModule.forRoot() needs an options object');
  checkKnownKeys(options);
  const jwt = checkJwt(options);

  if (options.tiers !== undefined && (typeof options.tiers !== 'object' || options.tiers === null))
    fail('tiers', 'expected an object of tier name to { limit, windowMs }');
  // Given tiers are the app's whole list: merged into the defaults, a token claiming a tier the app never defined
  // (`enterprise`) would get the default's limits instead of the default tier's.
  const givenTiers = options.tiers ?? DEFAULT_TIERS;
  const tiers = new Map<string, TierLimits>();
  for (const [name, tier] of Object.entries(givenTiers)) {
    if (name === ANONYMOUS_TIER)
      fail(`tiers.${name}`, `"${ANONYMOUS_TIER}" is reserved for @Public() routes; set it with the "anonymous" option`);
    tiers.set(name, checkTier(`tiers.${name}`, tier));
  }
  if (tiers.size === 0)
    fail('tiers', 'defines no tier; leave it out for the defaults (free, pro, enterprise) or define at least one');
  if (options.defaultTier !== undefined && (typeof options.defaultTier !== 'string' || options.defaultTier === '')) {
    fail('defaultTier', `must be the name of a tier, got ${JSON.stringify(options.defaultTier)}`);
  }
  const defaultTier = options.defaultTier ?? DEFAULT_TIER;
  if (!tiers.has(defaultTier)) {
    const named =
      options.defaultTier === undefined
        ? `is not set, so it is "${DEFAULT_TIER}", which`
        : `names tier "${defaultTier}", which`;
    fail(
      'defaultTier',
      `${named} is not one of the tiers (${[...tiers.keys()].join(', ')}); set it to the tier of tokens that name none or an unknown one`,
    );
  }
  const anonymous = checkTier('anonymous', options.anonymous ?? DEFAULT_ANONYMOUS_LIMITS);
  // Token budgets and stream slots are held per verified caller; @Public() routes have none to hold them.
  for (const name of ['tokens', 'maxConcurrentStreams', 'cost'] as const) {
    if (anonymous[name] !== undefined)
      fail(
        `anonymous.${name}`,
        'is not applied: @Public() routes have no verified caller to hold it; set it on a tier',
      );
  }

  const throttling = options.throttling ?? {};
  const onStoreError = throttling.onStoreError ?? 'fallback';
  if (!STORE_ERROR_POLICIES.has(onStoreError))
    fail('throttling.onStoreError', `must be one of fallback, allow, deny; got ${JSON.stringify(onStoreError)}`);
  const commandTimeoutMs = throttling.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!isNonNegativeInteger(commandTimeoutMs) || commandTimeoutMs === 0)
    fail('throttling.commandTimeoutMs', 'must be a whole number of milliseconds > 0');
  const batchScriptCalls = checkBoolean('throttling.batchScriptCalls', throttling.batchScriptCalls, true);
  const keyPrefix = throttling.keyPrefix ?? 'agent-security:rl';
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix))
    fail('throttling.keyPrefix', 'must be a string without { or } (the module adds the Redis Cluster hash tag itself)');

  const pricing = checkPricing(options.pricing);
  const costBudgets = new Map<string, { limitNanoUsd: number; windowMs: number }>();
  for (const [name, tier] of tiers) {
    if (tier.cost === undefined) continue;
    if (pricing.size === 0)
      fail(
        `tiers.${name}.cost`,
        'needs prices: set pricing: { [model]: { inputPerMillionUsd, outputPerMillionUsd } } for the models its callers use',
      );
    costBudgets.set(
      name,
      Object.freeze({ limitNanoUsd: microUsd(tier.cost.limitUsd)! * 1000, windowMs: tier.cost.windowMs }),
    );
  }

  const mode = options.mode ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'report')
    fail('mode', `must be "enforce" or "report", got ${JSON.stringify(mode)}`);

  const leaseMs = options.streams?.leaseMs ?? 30_000;
  if (!isNonNegativeInteger(leaseMs) || leaseMs < 100)
    fail('streams.leaseMs', 'must be a whole number of milliseconds >= 100');

  const cors = options.cors ?? false;
  if (cors !== false) checkCors(cors);
  const errorFilter = checkBoolean('errorFilter', options.errorFilter, true);
  const logging = checkLogging(options.logging);

  const destination = logging ? logging.destination : undefined;
  if (
    destination !== undefined &&
    !(typeof destination === 'string' && destination !== '') &&
    !isNonNegativeInteger(destination) &&
    !(typeof destination === 'object' && destination !== null && typeof destination.write === 'function')
  ) {
    fail('logging.destination', 'must be a file path, a file descriptor, or a stream with write()');
  }
  if (
    (typeof destination === 'string' || typeof destination === 'number') &&
    logging &&
    logging.pino?.transport !== undefined
  ) {
    fail(
      'logging.destination',
      'a path or a file descriptor cannot be combined with logging.pino.transport (pino takes one or the other)',
    );
  }

  return Object.freeze({
    jwt,
    tiers,
    costBudgets,
    pricing,
    mode,
    defaultTier,
    anonymous,
    redis: options.redis,
    throttling: Object.freeze({ keyPrefix, onStoreError, commandTimeoutMs, batchScriptCalls }),
    streams: Object.freeze({ leaseMs }),
    logging,
    cors,
    errorFilter,
  });
}
