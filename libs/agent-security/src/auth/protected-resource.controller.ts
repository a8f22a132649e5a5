import { Controller, Get, Inject, NotFoundException, type OnApplicationBootstrap, Req } from '@nestjs/common';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { IncomingMessage } from 'http';
import { AGENT_SECURITY_CONFIG } from '../agent-security.constants.js';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { PROTECTED_RESOURCE_WELL_KNOWN } from './protected-resource.js';
import { Public } from './public.decorator.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';
import { requiredScopes } from './scopes.js';

/**
 * The well-known path, then the same followed by up to MAX_RESOURCE_SEGMENTS path segments of the resource. Named
 * segments, not a wildcard: Express 5 (`*name`) and Fastify (a bare trailing `*`) spell a wildcard differently, and a
 * controller's paths are fixed before the platform is known. The handler compares the whole path with the resource's.
 */
const MAX_RESOURCE_SEGMENTS = 8;
const METADATA_PATHS = Array.from(
  { length: MAX_RESOURCE_SEGMENTS + 1 },
  (_, depth) => PROTECTED_RESOURCE_WELL_KNOWN.slice(1) + Array.from({ length: depth }, (_, i) => `/:s${i}`).join(''),
);

/** OAuth 2.0 Protected Resource Metadata (RFC 9728 §2), as this API publishes it. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers?: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
}

/**
 * `GET /.well-known/oauth-protected-resource` (and the same path followed by the resource's own path, as RFC 9728
 * §3.1 builds it) when `jwt.resource` is set; a 404 otherwise. Public, so limited per client IP by the anonymous
 * tier. The document is built once, when the app starts: the scopes are those of every route's `@RequireScopes()`.
 */
@Public()
@Controller()
export class ProtectedResourceController implements OnApplicationBootstrap {
  private document: ProtectedResourceMetadata | undefined;
  private readonly resourcePath: string | undefined;

  constructor(
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {
    const resource = config.jwt.resource;
    if (resource !== undefined) {
      const path = new URL(resource).pathname.replace(/\/$/, '');
      this.resourcePath = PROTECTED_RESOURCE_WELL_KNOWN + path;
    }
  }

  onApplicationBootstrap(): void {
    const { jwt } = this.config;
    if (jwt.resource === undefined) return;
    const issuers = jwt.issuer === undefined ? undefined : Array.isArray(jwt.issuer) ? jwt.issuer : [jwt.issuer];
    const scopes = this.routeScopes();
    this.document = Object.freeze({
      resource: jwt.resource,
      ...(issuers === undefined ? {} : { authorization_servers: Object.freeze([...issuers]) }),
      ...(scopes.length === 0 ? {} : { scopes_supported: Object.freeze(scopes) }),
      bearer_methods_supported: Object.freeze(jwt.allowQueryToken ? ['header', 'query'] : ['header']),
    });
  }

  @Get(METADATA_PATHS)
  metadata(@Req() request: IncomingMessage & { path?: string }): ProtectedResourceMetadata {
    // Express's `path`; Fastify's request has only the URL.
    const path = request.path ?? request.url?.split('?', 1)[0] ?? '';
    if (this.document === undefined || (path !== PROTECTED_RESOURCE_WELL_KNOWN && path !== this.resourcePath)) {
      throw new NotFoundException();
    }
    return this.document;
  }

  /** Every scope some authenticated route requires, sorted, each once. */
  private routeScopes(): string[] {
    const found = new Set<string>();
    const scanner = new MetadataScanner();
    for (const module of this.modules.values()) {
      for (const wrapper of module.controllers.values()) {
        const controller = wrapper.metatype as Function | null;
        if (typeof controller !== 'function') continue;
        const prototype = controller.prototype as object;
        for (const name of scanner.getAllMethodNames(prototype)) {
          const handler = (prototype as Record<string, unknown>)[name];
          if (typeof handler !== 'function') continue;
          if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [handler, controller])) continue;
          for (const scope of requiredScopes(this.reflector, handler, controller) ?? []) found.add(scope);
        }
      }
    }
    return [...found].sort();
  }
}
