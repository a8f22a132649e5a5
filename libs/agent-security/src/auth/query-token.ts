import type { IncomingMessage } from 'http';

const PARAM = 'access_token=';
const REDACTED = 'access_token=[REDACTED]';

/** Where the front of the request keeps a query token it took out of the URL: null when there was none to use. */
const QUERY_TOKEN = Symbol('agent-security:queryToken');

type HoldsQueryToken = IncomingMessage & { originalUrl?: string; [QUERY_TOKEN]?: string | null };

/**
 * At the front of every request (when query tokens are allowed), before any route, handler or error page can see the
 * URL: a query token is taken out of it whatever the route (a public one, one authenticated by header, no route at
 * all) and kept for the AuthGuard.
 */
export function holdQueryToken(request: HoldsQueryToken): void {
  const url = request.url;
  if (url !== undefined && url.includes(PARAM)) request[QUERY_TOKEN] = takeQueryToken(request) ?? null;
}

/** The request's query token: the one held at the front, or taken now where the front did not run. */
export function queryToken(request: HoldsQueryToken): string | undefined {
  const held = request[QUERY_TOKEN];
  // Not read again from a URL the front has rewritten: "[REDACTED]" is not the client's token.
  return held === undefined ? takeQueryToken(request) : (held ?? undefined);
}

/**
 * The `access_token` query parameter (RFC 6750 §2.3), taken out of the URL: the request's `url` and
 * `originalUrl` keep the parameter with its value redacted, so no logger that reads them later sees it.
 */
export function takeQueryToken(request: IncomingMessage & { originalUrl?: string }): string | undefined {
  const url = request.url ?? '';
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  let start = url.indexOf(PARAM, query);
  while (start > 0 && url[start - 1] !== '?' && url[start - 1] !== '&') start = url.indexOf(PARAM, start + 1);
  if (start < 0) return undefined;
  const end = url.indexOf('&', start);
  const raw = url.slice(start + PARAM.length, end < 0 ? undefined : end);
  request.url = redactQueryToken(url);
  if (request.originalUrl !== undefined) request.originalUrl = redactQueryToken(request.originalUrl);
  try {
    const token = decodeURIComponent(raw);
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/** The URL with any `access_token` value replaced by `[REDACTED]`. */
export function redactQueryToken(url: string): string {
  if (!url.includes(PARAM)) return url;
  return url.replace(/([?&])access_token=[^&]*/g, `$1${REDACTED}`);
}
