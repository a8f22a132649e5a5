import { Inject, Injectable } from '@nestjs/common';
import type { JwtService } from '@nestjs/jwt';
import type { JwtVerifyOptions } from '@nestjs/jwt';
import { AGENT_SECURITY_CONFIG, AGENT_SECURITY_JWT } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import type { AgentClaims, AgentPrincipal } from './agent-principal.interface.js';
import { EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE } from './auth.constants.js';
import type { CallerClaims } from './claims-mapping.js';

/** Thrown with one of the seed's fixed messages; the library's own error text never reaches a caller. */
export class TokenRejectedError extends Error {}

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
 * Verifies bearer tokens with @nestjs/jwt and turns them into principals.
 * Verified tokens are remembered until their `exp`: a signature check costs tens of microseconds and an agent
 * client sends the same token many times. The cache is keyed by the token's last characters (its signature) and
 * an entry answers only the exact token it holds: hashing a key of a few hundred characters on every request costs
 * about twice as much, and a forged tail only ever meets a full comparison that fails.
 */
@Injectable()
export class TokenVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly verifyOptions: JwtVerifyOptions;
  private readonly cacheSize: number;
  private readonly toleranceMs: number;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(AGENT_SECURITY_JWT) private readonly jwt: JwtService,
  ) {
    const { jwt: options } = config;
    this.cacheSize = options.cacheSize;
    this.toleranceMs = options.clockToleranceSec * 1000;
    this.verifyOptions = {
      algorithms: options.algorithms,
      issuer: options.issuer as JwtVerifyOptions['issuer'],
      audience: options.audience as JwtVerifyOptions['audience'],
      clockTolerance: options.clockToleranceSec,
    };
  }

  verify(token: string): AgentPrincipal {
    if (token.length > this.config.jwt.maxTokenLength) throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    const key = token.length > CACHE_KEY_LENGTH ? token.slice(-CACHE_KEY_LENGTH) : token;
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.token === token) {
      if (Date.now() < cached.expiresAt) return cached.principal;
      this.cache.delete(key);
      throw new TokenRejectedError(EXPIRED_TOKEN_MESSAGE);
    }
    if (!COMPACT_JWS.test(token)) {
      throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    }
    let claims: AgentClaims;
    try {
      claims = this.jwt.verify<AgentClaims>(token, this.verifyOptions);
    } catch (error) {
      throw new TokenRejectedError(
        (error as Error).name === 'TokenExpiredError' ? EXPIRED_TOKEN_MESSAGE : INVALID_TOKEN_MESSAGE,
      );
    }
    const principal = this.toPrincipal(claims);
    if (this.cacheSize > 0 && typeof claims.exp === 'number') {
      if (this.cache.size >= this.cacheSize && !this.cache.has(key)) {
        // Oldest insertion goes first: cheap, and a hot token is re-verified at most once per eviction.
        this.cache.delete(this.cache.keys().next().value as string);
      }
      this.cache.set(key, { token, principal, expiresAt: claims.exp * 1000 + this.toleranceMs });
    }
    return principal;
  }

  private toPrincipal(claims: AgentClaims): AgentPrincipal {
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
      throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    }
    if (claims.exp === undefined ? this.config.jwt.requireExp : typeof claims.exp !== 'number') {
      throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    }
    // Frozen before the mapping sees them: a mapping function cannot change what the handlers read.
    const frozen = deepFreeze(claims);
    let caller: CallerClaims;
    try {
      caller = this.config.jwt.claims(frozen);
    } catch {
      throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    }
    if (typeof caller.userId !== 'string' || caller.userId === '') {
      throw new TokenRejectedError(INVALID_TOKEN_MESSAGE);
    }
    // Only a tier the options define; never a higher one by accident.
    const tier = typeof caller.tier === 'string' && this.config.tiers.has(caller.tier) ? caller.tier : this.config.defaultTier;
    return Object.freeze({ userId: caller.userId, tier, scopes: caller.scopes, claims: frozen });
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
