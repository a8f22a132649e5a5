import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { corsPolicy, type CorsPolicy } from './cors-policy.js';

/**
 * CORS applied by the module itself, at the front of the request (the front door, http/front-door.ts): it runs before every guard, so a preflight is
 * answered here (no token needed, not counted) and never reaches authentication or throttling.
 * A disallowed origin gets no Access-Control-Allow-Origin, which is what makes the browser refuse.
 */
@Injectable()
export class CorsMiddleware implements NestMiddleware {
  private readonly policy: CorsPolicy | undefined;

  constructor(@Inject(AGENT_SECURITY_CONFIG) config: AgentSecurityConfig) {
    this.policy = config.cors ? corsPolicy(config.cors) : undefined;
  }

  /** `use`, bound once, for callers that pass it around. */
  readonly handle = (request: IncomingMessage, response: ServerResponse, next: () => void): void =>
    this.use(request, response, next);

  get enabled(): boolean {
    return this.policy !== undefined;
  }

  use(request: IncomingMessage, response: ServerResponse, next: () => void): void {
    const policy = this.policy;
    if (policy === undefined) return next();
    // Every answer depends on Origin unless it is "*" for all: a shared cache (a CDN) must not hand the one it stored
    // for a request without Origin, which has no Access-Control-Allow-Origin, to a browser's request with one.
    if (!policy.wildcard) response.setHeader('Vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined) return next();
    const allowed = policy.isAllowed(origin);
    if (allowed) {
      response.setHeader('Access-Control-Allow-Origin', policy.wildcard ? '*' : origin);
      if (policy.credentials) response.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      if (allowed) {
        response.setHeader('Access-Control-Allow-Methods', policy.methods);
        response.setHeader('Access-Control-Allow-Headers', policy.allowedHeaders);
        if (policy.maxAge !== undefined) response.setHeader('Access-Control-Max-Age', policy.maxAge);
      }
      response.statusCode = 204;
      response.setHeader('Content-Length', '0');
      response.end();
      return;
    }
    if (allowed) response.setHeader('Access-Control-Expose-Headers', policy.exposedHeaders);
    next();
  }
}
