import type { IncomingMessage } from 'http';

const PARAM = 'access_token=';
const NAME = 'access_token';
const REDACTED_VALUE = '[REDACTED]';

/**
 * Whether a URL's parameters might name an access token under some spelling: "access" in any case, or a
 * percent-escape that could spell it (`access%5Ftoken`, `%61ccess_token`). Anything else is logged as it is,
 * after one linear scan from the first `?` or `;`.
 */
const TOKEN_HINT = /access|%[0-9a-f]{2}/gi;

function mayNameToken(url: string): boolean {
  const start = firstParamIndex(url);
  if (start < 0) return false;
  TOKEN_HINT.lastIndex = start;
  return TOKEN_HINT.test(url);
}

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
  if (url === undefined) return;
  if (url.includes(PARAM)) {
    request[QUERY_TOKEN] = takeQueryToken(request) ?? null;
  } else if (mayNameToken(url)) {
    // A token under another spelling is no credential RFC 6750 defines, so it authenticates nothing, but it is one:
    // it leaves the URL all the same.
    const redacted = redactQueryToken(url);
    if (redacted !== url) {
      request.url = redacted;
      if (request.originalUrl !== undefined) request.originalUrl = redactQueryToken(request.originalUrl);
      request[QUERY_TOKEN] = null;
    }
  }
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
  request.url = redactQueryToken(url);
  if (request.originalUrl !== undefined) request.originalUrl = redactQueryToken(request.originalUrl);
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  let start = url.indexOf(PARAM, query);
  while (start > 0 && url[start - 1] !== '?' && url[start - 1] !== '&') start = url.indexOf(PARAM, start + 1);
  if (start < 0) return undefined;
  const end = url.indexOf('&', start);
  const raw = url.slice(start + PARAM.length, end < 0 ? undefined : end);
  try {
    const token = decodeURIComponent(raw);
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * The URL with the value of every parameter whose name holds `access_token` replaced by `[REDACTED]`, however it
 * is spelled: in any case, percent-encoded (once or more), with a `[]` or `[key]` suffix, after `?`, `&` or `;`.
 * A client that sent its token under such a name still sent its token.
 */
export function redactQueryToken(url: string): string {
  if (!mayNameToken(url)) return url;
  const start = firstParamIndex(url);
  let out = url.slice(0, start);
  let changed = false;
  let from = start;
  while (from < url.length) {
    let end = from + 1;
    while (end < url.length && !isSeparator(url.charCodeAt(end))) end++;
    // The segment with its leading separator: "?name=value", "&name=value" or ";name=value".
    const segment = url.slice(from, end);
    const eq = segment.indexOf('=');
    if (eq > 0 && namesAccessToken(segment.slice(1, eq))) {
      out += segment.slice(0, eq + 1) + REDACTED_VALUE;
      changed = true;
    } else {
      out += segment;
    }
    from = end;
  }
  return changed ? out : url;
}

/** Where the parameters start: the first `?`, or a `;` before it (path parameters, which some servers read). */
function firstParamIndex(url: string): number {
  const query = url.indexOf('?');
  const semicolon = url.indexOf(';');
  if (semicolon >= 0 && (query < 0 || semicolon < query)) return semicolon;
  return query;
}

// '?', '&', ';', '#'
function isSeparator(code: number): boolean {
  return code === 63 || code === 38 || code === 59 || code === 35;
}

/** Whether a parameter's name, decoded and in lower case, holds `access_token` (`;access_token`, `access_token[]`). */
function namesAccessToken(raw: string): boolean {
  let name = raw;
  // Decoded until it no longer changes (a name escaped twice is still read by some parsers as escaped once).
  for (let i = 0; i < 4; i++) {
    const decoded = name.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (decoded === name) break;
    name = decoded;
  }
  return name.toLowerCase().includes(NAME);
}
