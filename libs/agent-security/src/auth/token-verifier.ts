import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { JwtService } from '@nestjs/jwt';
import type { JwtVerifyOptions } from '@nestjs/jwt';
import { jwtVerify, type JWTVerifyOptions } from 'jose';
import type { Logger } from 'pino';
import { AGENT_SECURITY_CONFIG, AGENT_SECURITY_JWT } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { AGENT_SECURITY_LOGGER } from '../logging/logging.constants.js';
import type { AgentClaims, AgentPrincipal } from './agent-principal.interface.js';
import type { CallerClaims } from './claims-mapping.js';
import { JwksKeySource } from './keys/jwks-key-source.js';
import {
  accessTokenTypeReason,
  claimsReason,
  decodeHeader,
  headerReason,
  joseReason,
  jsonwebtokenReason,
  type RefusalReason,
  subjectReason,
  TokenRejectedError,
} from './token-refusal.js';

export { TokenRejectedError } from './token-refusal.js';

// Three base64url segments; anything else is refused before base64 or crypto work.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Characters of the token's end that key the cache: part of its signature, so as good as random. */
const CACHE_KEY_LENGTH = 32;

interface CacheEntry {
  /** The whole token: a cached principal is only ever returned for exactly this string. */
  readonly token: string;
  readonly principal: AgentPrincipal;
  /** Epoch ms past which the token no longer verifies. */
  readonly expiresAt: number;
}

/**
 * Verifies bearer tokens and turns them into principals: with @nestjs/jwt for a secret or a PEM key (synchronous),
 * with jose and the provider's JWKS in issuer mode (a Promise, since a key may have to be fetched).
 * Verified tokens are remembered until their `exp`: a signature check costs tens of microseconds and an agent
 * client sends the same token many times. The cache is keyed by the token's last characters (its signature) and
 * an entry answers only the exact token it holds: hashing a key of a few hundred characters on every request costs
 * about twice as much, and a forged tail only ever meets a full comparison that fails. A cached token is answered
 * synchronously in every mode.
 */
@Injectable()
export class TokenVerifier implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly verifyOptions: JwtVerifyOptions;
  private readonly cacheSize: number;
  private readonly toleranceMs: number;
  private readonly requireExp: boolean;
  private readonly accessTokensOnly: boolean;
  /** Issuer mode only. */
  private readonly keys: JwksKeySource | undefined;
  private readonly joseOptions: JWTVerifyOptions | undefined;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_JWT) private readonly jwt: JwtService,
    @Optional() @Inject(AGENT_SECURITY_LOGGER) private readonly logger?: Logger,
  ) {
    const { jwt: options } = config;
    this.cacheSize = options.cacheSize;
    this.toleranceMs = options.clockToleranceSec * 1000;
    this.requireExp = options.requireExp;
    this.accessTokensOnly = options.accessTokenType === 'at+jwt';
    // complete: the header comes back with the claims, for the crit check, at no extra decoding.
    this.verifyOptions = {
      // EdDSA is never in this list: the config allows it in issuer mode only.
      algorithms: options.algorithms as JwtVerifyOptions['algorithms'],
      issuer: options.issuer as JwtVerifyOptions['issuer'],
      audience: options.audience as JwtVerifyOptions['audience'],
      clockTolerance: options.clockToleranceSec,
      complete: true,
    };
    if (options.jwks !== undefined) {
      this.keys = new JwksKeySource(options.jwks, logger);
      this.joseOptions = {
        algorithms: options.algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockToleranceSec,
        requiredClaims: options.requireExp ? ['iss', 'aud', 'exp'] : ['iss', 'aud'],
      };
    }
  }

  onApplicationBootstrap(): void {
    this.keys?.prefetch();
  }

  onModuleDestroy(): void {
    this.keys?.close();
  }

  /** A principal, or a Promise of one for a token not cached in issuer mode; refusals are TokenRejectedError. */
  verify(token: string): AgentPrincipal | Promise<AgentPrincipal> {
    if (token.length > this.config.jwt.maxTokenLength) throw this.refuse('too_long');
    const key = token.length > CACHE_KEY_LENGTH ? token.slice(-CACHE_KEY_LENGTH) : token;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.token === token) {
      if (Date.now() < cached.expiresAt) return cached.principal;
      this.cache.delete(key);
      throw this.refuse('expired');
    }
    if (!COMPACT_JWS.test(token)) throw this.refuse('malformed');
    if (this.keys !== undefined) return this.verifyFromProvider(token, key);
    let verified: { header: Record<string, unknown>; payload: AgentClaims };
    try {
      verified = this.jwt.verify(token, this.verifyOptions);
    } catch (error) {
      throw this.refuse(jsonwebtokenReason(error));
    }
    const reason = headerReason(verified.header);
    if (reason !== undefined) throw this.refuse(reason);
    return this.remember(key, token, verified.payload);
  }

  private async verifyFromProvider(token: string, key: string): Promise<AgentPrincipal> {
    const keys = this.keys as JwksKeySource;
    // The header is checked before jose and any key lookup: a token refused on its face costs no fetch, and a
    // `crit` is refused whatever it names (jose would take `b64`).
    const header = decodeHeader(token);
    if (header === undefined) throw this.refuse('malformed');
    const reason = headerReason(header) ?? accessTokenTypeReason(header, this.accessTokensOnly);
    if (reason !== undefined) throw this.refuse(reason);
    let claims: AgentClaims;
    try {
      const { payload } = await jwtVerify(
        token,
        (protectedHeader) => keys.key(protectedHeader.kid, protectedHeader.alg as string) as never,
        this.joseOptions,
      );
      claims = payload as AgentClaims;
    } catch (error) {
      throw this.refuse(joseReason(error));
    }
    return this.remember(key, token, claims);
  }

  private remember(key: string, token: string, claims: AgentClaims): AgentPrincipal {
    const principal = this.toPrincipal(claims);
    if (this.cacheSize > 0 && claims.exp !== undefined) {
      if (this.cache.size >= this.cacheSize && !this.cache.has(key)) {
        // Oldest insertion goes first: cheap, and a hot token is re-verified at most once per eviction.
        this.cache.delete(this.cache.keys().next().value as string);
      }
      this.cache.set(key, { token, principal, expiresAt: claims.exp * 1000 + this.toleranceMs });
    }
    return principal;
  }

  private toPrincipal(claims: AgentClaims): AgentPrincipal {
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw this.refuse('malformed');
    const reason = claimsReason(claims, this.requireExp);
    if (reason !== undefined) throw this.refuse(reason);
    // Frozen before the mapping sees them: a mapping function cannot change what the handlers read.
    const frozen = deepFreeze(claims);
    let caller: CallerClaims;
    try {
      caller = this.config.jwt.claims(frozen);
    } catch {
      throw this.refuse('claims_mapping');
    }
    // Checked on the mapped id, not on `sub`: a subject read from another claim is a Redis key all the same.
    const subject = subjectReason(caller.userId);
    if (subject !== undefined) throw this.refuse(subject);
    // Only a tier the options define; never a higher one by accident.
    const tier =
      typeof caller.tier === 'string' && this.config.tiers.has(caller.tier) ? caller.tier : this.config.defaultTier;
    return Object.freeze({ userId: caller.userId as string, tier, scopes: caller.scopes, claims: frozen });
  }

  /** One debug line per refused token, with the reason and never the token. */
  private refuse(reason: RefusalReason): TokenRejectedError {
    this.logger?.debug({ reason }, 'token refused');
    return new TokenRejectedError(reason);
  }
}

/**
 * Frozen all the way down: the cache hands the same claims to every request with this token, so a handler that
 * pushed to a nested claim (`roles`, `scope`) would change them for the requests after it. Paid once per verified
 * token, not per request; the claims are a fresh object parsed from the token, plain JSON, owned by no one else.
 */
function deepFreeze<T extends object>(value: T): T {
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === 'object' && field !== null && !Object.isFrozen(field)) deepFreeze(field);
  }
  return Object.freeze(value);
}
