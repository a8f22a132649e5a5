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

/**
 * Global guard: every route needs `Authorization: Bearer <jwt>` unless it is `@Public()`; a handler of another
 * transport (WebSocket, microservice, GraphQL) is refused unless it is `@Public()`.
 * Registered by AgentSecurityModule before the throttler guard, which reads the tier it sets.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly allowQueryToken: boolean;
  private readonly publicRoutes = new RouteMetadataCache((handler, controller) =>
    Boolean(this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, controller])),
  );

  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
    @Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig,
  ) {
    this.allowQueryToken = config.jwt.allowQueryToken;
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.publicRoutes.get(context)) return true;
    // Only HTTP carries a bearer token this guard can read. A WebSocket gateway, a microservice or a GraphQL resolver
    // behind the same global guard is refused (Nest's "Forbidden resource") rather than let through unauthenticated:
    // mark it @Public() and authenticate it in its own way.
    if (context.getType() !== 'http') return false;
    // getArgByIndex, not switchToHttp(): that one adds three fresh closures to the context on every call.
    const request = context.getArgByIndex<IncomingMessage>(0);
    let token = bearerToken(request.headers.authorization);
    if (token === undefined && this.allowQueryToken) token = queryToken(request);
    if (token === undefined) {
      reject(context.getArgByIndex<ServerResponse>(1), WWW_AUTHENTICATE_MISSING, MISSING_TOKEN_MESSAGE, 'missing_token');
    }
    let principal: AgentPrincipal | Promise<AgentPrincipal>;
    try {
      principal = this.verifier.verify(token);
    } catch (error) {
      refuse(context, error);
    }
    // Only a token not yet verified in issuer mode waits (for the provider's keys); a cached one never does.
    if (principal instanceof Promise) {
      return principal.then(
        (verified) => {
          request.principal = verified;
          return true;
        },
        (error: unknown) => refuse(context, error),
      );
    }
    request.principal = principal;
    return true;
  }
}

function refuse(context: ExecutionContext, error: unknown): never {
  const rejected = error instanceof TokenRejectedError;
  reject(
    context.getArgByIndex<ServerResponse>(1),
    WWW_AUTHENTICATE_INVALID,
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
