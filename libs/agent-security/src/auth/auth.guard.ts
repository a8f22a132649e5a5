import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'http';
import {
  INVALID_TOKEN_MESSAGE,
  MISSING_TOKEN_MESSAGE,
  WWW_AUTHENTICATE_INVALID,
  WWW_AUTHENTICATE_MISSING,
} from './auth.constants.js';
import { Inject } from '@nestjs/common';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';
import { queryToken } from './query-token.js';
import type { AgentPrincipal } from './agent-principal.interface.js';
import { TokenRejectedError, TokenVerifier } from './token-verifier.js';
import { RouteMetadataCache } from '../route-metadata.cache.js';
import {
  hasScopes,
  InsufficientScopeException,
  requiredScopes,
  scopeRequirement,
  type ScopeRequirement,
} from './scopes.js';
import { nodeRequest, nodeResponse } from '../http/platform-objects.js';

/** What the guard needs to know of a route, read once per handler. */
interface RouteAuth {
  readonly isPublic: boolean;
  /** The 401 challenges of the route, without a token and with one refused. */
  readonly missing: string;
  readonly invalid: string;
  readonly scopes?: ScopeRequirement;
}

/**
 * Global guard: every route needs `Authorization: Bearer <jwt>` unless it is `@Public()`; a handler of another
 * transport (WebSocket, microservice, GraphQL) is refused unless it is `@Public()`.
 * Registered by AgentSecurityModule before the budget and throttler guards, which read the tier it sets: a route's
 * `@RequireScopes()` is checked here too, so a token without the scope is refused before anything is counted.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly allowQueryToken: boolean;
  /** `resource_metadata` (RFC 9728 §5.1) at the end of every challenge, when the API publishes its metadata. */
  private readonly challengeParams: string;
  /** Shared by every route without `@RequireScopes()`. */
  private readonly authenticated: RouteAuth;
  private readonly publicRoute: RouteAuth;
  private readonly routes = new RouteMetadataCache<RouteAuth>((handler, controller) => {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, controller])) return this.publicRoute;
    const scopes = requiredScopes(this.reflector, handler, controller);
    if (scopes === undefined) return this.authenticated;
    const requirement = scopeRequirement(scopes, this.challengeParams);
    return { isPublic: false, missing: requirement.missing, invalid: requirement.invalid, scopes: requirement };
  });

  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    @Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig,
  ) {
    this.allowQueryToken = config.jwt.allowQueryToken;
    const metadataUrl = config.jwt.resourceMetadataUrl;
    this.challengeParams = metadataUrl === undefined ? '' : `, resource_metadata="${metadataUrl}"`;
    this.authenticated = Object.freeze({
      isPublic: false,
      missing: WWW_AUTHENTICATE_MISSING + this.challengeParams,
      invalid: WWW_AUTHENTICATE_INVALID + this.challengeParams,
    });
    this.publicRoute = Object.freeze({ ...this.authenticated, isPublic: true });
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routes.get(context);
    if (route.isPublic) return true;
    // Only HTTP carries a bearer token this guard can read. A WebSocket gateway, a microservice or a GraphQL resolver
    // behind the same global guard is refused (Nest's "Forbidden resource") rather than let through unauthenticated:
    // mark it @Public() and authenticate it in its own way.
    if (context.getType() !== 'http') return false;
    // getArgByIndex, not switchToHttp(): that one adds three fresh closures to the context on every call.
    const request = nodeRequest(context.getArgByIndex(0));
    let token = bearerToken(request.headers.authorization);
    if (token === undefined && this.allowQueryToken) token = queryToken(request);
    if (token === undefined) {
      reject(nodeResponse(context.getArgByIndex(1)), route.missing, MISSING_TOKEN_MESSAGE, 'missing_token');
    }
    let principal: AgentPrincipal | Promise<AgentPrincipal>;
    try {
      principal = this.verifier.verify(token);
    } catch (error) {
      refuse(context, route, error);
    }
    // Only a token not yet verified in issuer mode waits (for the provider's keys); a cached one never does.
    if (principal instanceof Promise) {
      return principal.then(
        (verified) => admit(context, route, request, verified),
        (error: unknown) => refuse(context, route, error),
      );
    }
    return admit(context, route, request, principal);
  }
}

/** Scopes are checked here, after the token and before any budget or window is counted. */
function admit(context: ExecutionContext, route: RouteAuth, request: IncomingMessage, principal: AgentPrincipal): true {
  request.principal = principal;
  const required = route.scopes;
  if (required !== undefined && !hasScopes(principal.scopes, required.scopes)) {
    nodeResponse(context.getArgByIndex(1)).setHeader('WWW-Authenticate', required.challenge);
    throw new InsufficientScopeException(required.scopes);
  }
  return true;
}

function refuse(context: ExecutionContext, route: RouteAuth, error: unknown): never {
  const rejected = error instanceof TokenRejectedError;
  reject(
    nodeResponse(context.getArgByIndex(1)),
    route.invalid,
    rejected ? error.message : INVALID_TOKEN_MESSAGE,
    rejected ? error.code : 'invalid_token',
  );
}

/** The token of a `Bearer` header (scheme case-insensitive, RFC 7235 §2.1), or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8) return undefined;
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(7).trim();
  return token === '' ? undefined : token;
}

function reject(response: ServerResponse, challenge: string, message: string, code: string): never {
  response.setHeader('WWW-Authenticate', challenge);
  throw new UnauthorizedException({ statusCode: 401, error: 'Unauthorized', message, code });
}
