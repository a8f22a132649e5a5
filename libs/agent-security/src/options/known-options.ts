/**
 * Every option key the module knows, at every depth: a key not in this table fails start-up (with the path and a
 * did-you-mean), so a misspelt `jwt.audiance` cannot start an app that checks no audience.
 *
 * To add an option, add its name here beside its type in agent-security-options.interface.ts:
 * - `VALUE`: a leaf (a string, number, boolean, list, function or RegExp); not looked into.
 * - `OPAQUE`: an object that belongs to another library (ioredis options or a client, pino options, a stream); not
 *   looked into.
 * - a nested table: an object whose keys are checked in turn (when the value is a plain object; `false` and other
 *   non-objects are left to the option's own validation).
 * - `eachOf(table)`: an object of user-chosen names (tiers) whose every value is checked against `table`.
 */
export const VALUE = 'value';
export const OPAQUE = 'opaque';

/** A class, not a plain object, so that no option table can be mistaken for it. */
export class EachOf {
  constructor(readonly table: OptionTable) {}
}
export type OptionNode = typeof VALUE | typeof OPAQUE | OptionTable | EachOf;
export interface OptionTable {
  readonly [key: string]: OptionNode;
}

export const eachOf = (table: OptionTable): EachOf => new EachOf(table);

const WINDOW: OptionTable = { limit: VALUE, windowMs: VALUE };

const TIER: OptionTable = {
  ...WINDOW,
  tokens: WINDOW,
  maxConcurrentStreams: VALUE,
  cost: { limitUsd: VALUE, windowMs: VALUE },
  mode: VALUE,
};

export const JWT_OPTIONS: OptionTable = {
  secret: VALUE,
  publicKey: VALUE,
  algorithms: VALUE,
  issuer: VALUE,
  audience: VALUE,
  jwksUri: VALUE,
  jwks: { cooldownMs: VALUE, timeoutMs: VALUE, cacheMaxAgeMs: VALUE, staleMaxAgeMs: VALUE },
  accessTokenType: VALUE,
  clockToleranceSec: VALUE,
  requireExp: VALUE,
  // Claim names, or a function of the claims (a function is a leaf and not looked into).
  claims: { subject: VALUE, tier: VALUE, scopes: VALUE },
  resource: VALUE,
  resourceMetadataUrl: VALUE,
  maxTokenLength: VALUE,
  allowQueryToken: VALUE,
  cacheSize: VALUE,
};

export const AGENT_SECURITY_OPTION_KEYS: OptionTable = {
  jwt: JWT_OPTIONS,
  tiers: eachOf(TIER),
  defaultTier: VALUE,
  // Checked by the config as a tier, so that a token budget set here gets its own message.
  anonymous: TIER,
  redis: OPAQUE,
  throttling: {
    keyPrefix: VALUE,
    onStoreError: VALUE,
    commandTimeoutMs: VALUE,
    batchScriptCalls: VALUE,
  },
  streams: { leaseMs: VALUE },
  pricing: eachOf({ inputPerMillionUsd: VALUE, outputPerMillionUsd: VALUE, cachedInputPerMillionUsd: VALUE }),
  logging: {
    level: VALUE,
    redact: VALUE,
    trustIncomingRequestId: VALUE,
    destination: OPAQUE,
    pino: OPAQUE,
  },
  cors: {
    origins: VALUE,
    credentials: VALUE,
    methods: VALUE,
    allowedHeaders: VALUE,
    exposedHeaders: VALUE,
    maxAge: VALUE,
  },
  errorFilter: VALUE,
  mode: VALUE,
};
