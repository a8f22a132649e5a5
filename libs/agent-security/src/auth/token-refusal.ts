import { EXPIRED_TOKEN_MESSAGE, INVALID_TOKEN_MESSAGE } from './auth.constants.js';

/**
 * Why a token was refused, as the debug line says it. The client is told only `invalid_token` or `token_expired`:
 * which check failed would help a forger more than a caller.
 */
export type RefusalReason =
  | 'too_long'
  | 'malformed'
  | 'crit'
  | 'type'
  | 'algorithm'
  | 'signature'
  | 'unknown_kid'
  | 'unusable_key'
  | 'jwks_unavailable'
  | 'expired'
  | 'not_yet_valid'
  | 'invalid_time'
  | 'no_expiry'
  | 'issuer'
  | 'audience'
  | 'no_subject'
  | 'invalid_subject'
  | 'claims_mapping';

export type TokenErrorCode = 'invalid_token' | 'token_expired';

/** Thrown with one of the fixed messages a client is told; the library's own error text never reaches a caller. */
export class TokenRejectedError extends Error {
  readonly code: TokenErrorCode;

  constructor(readonly reason: RefusalReason) {
    const expired = reason === 'expired';
    super(expired ? EXPIRED_TOKEN_MESSAGE : INVALID_TOKEN_MESSAGE);
    this.code = expired ? 'token_expired' : 'invalid_token';
  }
}

/** What a key source throws when it has no key for a token. */
export class KeyLookupError extends Error {
  constructor(readonly reason: 'unknown_kid' | 'jwks_unavailable') {
    super(reason);
  }
}

/** A compact JWS's protected header as an object, or undefined when it is not one. */
export function decodeHeader(token: string): Record<string, unknown> | undefined {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString());
    return typeof header === 'object' && header !== null && !Array.isArray(header)
      ? (header as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Header members a verifier must understand (RFC 7515 §4.1.11): this one understands no extension, so any `crit`
 * is refused, even an empty one (which the RFC forbids).
 */
export function headerReason(header: Record<string, unknown>): RefusalReason | undefined {
  return header.crit !== undefined ? 'crit' : undefined;
}

/**
 * Media types of an access token (RFC 9068 §2.1, `at+jwt`) or, unless `accessTokensOnly`, a plain JWT or none;
 * any other `typ` is another kind of token. Compared without case and with `application/` optional (RFC 7515 §4.1.9).
 */
export function accessTokenTypeReason(
  header: Record<string, unknown>,
  accessTokensOnly = false,
): RefusalReason | undefined {
  const typ = header.typ;
  if (typ === undefined) return accessTokensOnly ? 'type' : undefined;
  if (typeof typ !== 'string') return 'type';
  const type = typ.toLowerCase();
  if (type === 'at+jwt' || type === 'application/at+jwt') return undefined;
  return !accessTokensOnly && (type === 'jwt' || type === 'application/jwt') ? undefined : 'type';
}

const isNumericDate = (value: unknown) => typeof value === 'number' && Number.isFinite(value);

/**
 * What the verifiers leave to the caller: `exp`, `nbf` and `iat` as finite numbers (JSON's 1e309 is Infinity,
 * a token that never expires), and a subject that is a well-formed UTF-16 string, since a lone surrogate is
 * written to Redis as U+FFFD and two such subjects would share one caller's windows.
 */
export function claimsReason(claims: Record<string, unknown>, requireExp: boolean): RefusalReason | undefined {
  const { exp, nbf, iat } = claims;
  if (exp === undefined ? requireExp : !isNumericDate(exp)) return exp === undefined ? 'no_expiry' : 'invalid_time';
  if ((nbf !== undefined && !isNumericDate(nbf)) || (iat !== undefined && !isNumericDate(iat))) return 'invalid_time';
  return undefined;
}

/**
 * The caller's id as the claims mapping found it. Not well-formed UTF-16 is refused: Redis keys are UTF-8, where
 * every lone surrogate becomes U+FFFD, and two such callers would share one window and one budget.
 */
export function subjectReason(userId: unknown): RefusalReason | undefined {
  if (typeof userId !== 'string' || userId === '') return 'no_subject';
  if (!(userId as string & { isWellFormed(): boolean }).isWellFormed()) return 'invalid_subject';
  return undefined;
}

/** jsonwebtoken's errors (behind @nestjs/jwt), by name and message: it has no codes. */
export function jsonwebtokenReason(error: unknown): RefusalReason {
  const { name, message } = error as { name?: string; message?: string };
  if (name === 'TokenExpiredError') return 'expired';
  if (name === 'NotBeforeError') return 'not_yet_valid';
  if (typeof message !== 'string') return 'malformed';
  if (message.startsWith('jwt audience invalid')) return 'audience';
  if (message.startsWith('jwt issuer invalid')) return 'issuer';
  if (message === 'invalid signature') return 'signature';
  if (
    message === 'invalid algorithm' ||
    message.includes('must be an asymmetric key') ||
    message.includes('must be a symmetric key')
  )
    return 'algorithm';
  if (message === 'invalid exp value' || message === 'invalid nbf value') return 'invalid_time';
  return 'malformed';
}

/** jose's errors, by code and claim. */
export function joseReason(error: unknown): RefusalReason {
  if (error instanceof KeyLookupError) return error.reason;
  const { code, claim, reason } = error as { code?: string; claim?: string; reason?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return 'not_yet_valid';
      if (claim === 'iss') return 'issuer';
      if (claim === 'aud') return 'audience';
      if (claim === 'sub') return 'no_subject';
      if (claim === 'exp') return reason === 'missing' ? 'no_expiry' : 'invalid_time';
      return claim === 'iat' ? 'invalid_time' : 'malformed';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm';
    default:
      // A key jose will not use for this algorithm (an RSA key under 2048 bits, say) is a TypeError.
      return error instanceof TypeError ? 'unusable_key' : 'malformed';
  }
}
