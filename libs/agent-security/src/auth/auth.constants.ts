export const MISSING_TOKEN_MESSAGE = 'Missing or invalid auth token';
export const EXPIRED_TOKEN_MESSAGE = 'Token expired';
export const INVALID_TOKEN_MESSAGE = 'Invalid token';

/** RFC 6750 §3: no error code when credentials are absent, `invalid_token` when they fail. */
export const WWW_AUTHENTICATE_REALM = 'Bearer realm="agent-security"';
export const WWW_AUTHENTICATE_MISSING = WWW_AUTHENTICATE_REALM;
export const WWW_AUTHENTICATE_INVALID = `${WWW_AUTHENTICATE_REALM}, error="invalid_token"`;
