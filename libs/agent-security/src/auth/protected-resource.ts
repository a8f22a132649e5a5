/** Where RFC 9728 §3 puts a protected resource's metadata, under its origin. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/**
 * The metadata document's URL for a resource identifier (RFC 9728 §3.1): the well-known path inserted between
 * the origin and the resource's own path, with any trailing slash of that path dropped.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${PROTECTED_RESOURCE_WELL_KNOWN}${path}${url.search}`;
}

/** An absolute http(s) URL without a fragment (RFC 9728 §1.2), or undefined. */
export function absoluteHttpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '' || value.includes('#'))
    return undefined;
  return url;
}
