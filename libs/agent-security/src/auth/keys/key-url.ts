import { isIP } from 'net';

/**
 * Keys fetched over plain http could be replaced by anyone on the path: https, except from the machine itself. The
 * machine itself is an IPv4 literal in 127.0.0.0/8, `localhost` or `[::1]`, after WHATWG URL parsing (which writes
 * `127.1` and `0x7f000001` as `127.0.0.1`); a DNS name that merely starts with `127.` (`127.0.0.1.nip.io`) is not.
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIP(hostname) === 4 && hostname.startsWith('127.');
}

/** Why `value` may not serve keys, or undefined when it may. */
export function keyUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an absolute URL, got ${JSON.stringify(value)}`;
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) return undefined;
  return `must be an https URL (http only on a loopback host: 127.0.0.0/8, localhost, [::1]), got ${JSON.stringify(value)}`;
}
