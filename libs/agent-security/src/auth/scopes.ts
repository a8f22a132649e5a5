import { ForbiddenException } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import { WWW_AUTHENTICATE_REALM } from './auth.constants.js';
import { REQUIRED_SCOPES_KEY } from './scopes.decorator.js';

export const INSUFFICIENT_SCOPE_MESSAGE = 'Insufficient scope';

/** A route's scope requirement, built once per handler: the scopes and the challenges naming them. */
export interface ScopeRequirement {
  readonly scopes: readonly string[];
  /** `WWW-Authenticate` of the 403 (RFC 6750 §3.1). */
  readonly challenge: string;
  /**
   * The 401 challenges of the route, without and with a token: they name the scopes too (RFC 6750 §3), which is
   * what an OAuth or MCP client asks the authorization server for before it tries again.
   */
  readonly missing: string;
  readonly invalid: string;
}

/** The scopes a handler requires (its controller's and its own), or undefined when it requires none. */
export function requiredScopes(
  reflector: Reflector,
  handler: Function,
  controller: Function,
): readonly string[] | undefined {
  const ofController = reflector.get<readonly string[] | undefined>(REQUIRED_SCOPES_KEY, controller) ?? [];
  const ofHandler = reflector.get<readonly string[] | undefined>(REQUIRED_SCOPES_KEY, handler) ?? [];
  const scopes = new Set([...ofController, ...ofHandler]);
  return scopes.size === 0 ? undefined : Object.freeze([...scopes]);
}

/** `challengeParams`: what ends every challenge of the module (resource_metadata, when set). */
export function scopeRequirement(scopes: readonly string[], challengeParams: string): ScopeRequirement {
  const scope = `scope="${scopes.join(' ')}"${challengeParams}`;
  return {
    scopes,
    challenge: `${WWW_AUTHENTICATE_REALM}, error="insufficient_scope", ${scope}`,
    missing: `${WWW_AUTHENTICATE_REALM}, ${scope}`,
    invalid: `${WWW_AUTHENTICATE_REALM}, error="invalid_token", ${scope}`,
  };
}

/** Whether `granted` holds every scope of `required`; no allocation, as it runs on every request of such a route. */
export function hasScopes(granted: readonly string[], required: readonly string[]): boolean {
  for (let i = 0; i < required.length; i++) {
    if (!granted.includes(required[i])) return false;
  }
  return true;
}

export class InsufficientScopeException extends ForbiddenException {
  constructor(required: readonly string[]) {
    super({
      statusCode: 403,
      error: 'Forbidden',
      message: INSUFFICIENT_SCOPE_MESSAGE,
      code: 'insufficient_scope',
      requiredScopes: required,
    });
  }
}
