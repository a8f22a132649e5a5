/** Claims of a verified token. */
export interface AgentClaims {
  readonly sub: string;
  readonly exp?: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly iss?: string;
  readonly aud?: string | string[];
  readonly [claim: string]: unknown;
}

/** The verified caller of a request, set by the AuthGuard. Frozen: it is shared between requests that carry the same token. */
export interface AgentPrincipal {
  /** The token's `sub`, or the claim `jwt.claims` names. */
  readonly userId: string;
  /** A tier defined in the options; the default tier when the token names none or an unknown one. */
  readonly tier: string;
  /** The token's scopes (`scope`, `scp`, `permissions`, or the claim `jwt.claims` names); frozen. */
  readonly scopes: readonly string[];
  readonly claims: AgentClaims;
}

declare module 'http' {
  interface IncomingMessage {
    /** Set by the AuthGuard on authenticated routes. */
    principal?: AgentPrincipal;
  }
}
