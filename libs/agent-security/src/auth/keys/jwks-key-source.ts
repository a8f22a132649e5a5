import type { Logger } from 'pino';
import type { JwksConfig } from '../../agent-security.config.js';
import { KeyLookupError } from '../token-refusal.js';
import { keyUrlProblem } from './key-url.js';
import { selectKey, signingKeys, type PublicJwk } from './jwk-selection.js';

/** A discovery document or a JWKS larger than this is not a provider's. */
const MAX_DOCUMENT_CHARS = 512 * 1024;
/** The first retry after a failed fetch; each further failure doubles it, up to the cooldown. */
const FIRST_RETRY_MS = 1_000;

/**
 * The provider's signing keys, fetched from its JWKS (found by OpenID Connect discovery unless configured) and kept
 * in memory. Fetches happen only when a token needs them, one at a time, each bounded by `timeoutMs` for discovery
 * and JWKS together, so no request waits longer than that:
 * - a `kid` not held refetches at most once per `cooldownMs`, so made-up kids cannot make a flood of fetches;
 * - keys older than `cacheMaxAgeMs` keep verifying while a refetch runs in the background;
 * - while the provider cannot be reached, keys fetched within `staleMaxAgeMs` keep verifying, and failed
 *   fetches are retried after 1 s, 2 s, 4 s ... up to the cooldown; older keys are dropped.
 */
export class JwksKeySource {
  private keys: readonly PublicJwk[] = [];
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private failures = 0;
  private pending: Promise<boolean> | undefined;
  private jwksUri: string | undefined;
  private readonly closed = new AbortController();

  constructor(
    private readonly config: JwksConfig,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.jwksUri = config.jwksUri;
  }

  /** At start-up, without waiting: a provider down then is tried again when a token needs it. */
  prefetch(): void {
    if (this.pending === undefined && this.keys.length === 0) void this.refresh();
  }

  /** Stops a fetch in flight (at shutdown). */
  close(): void {
    this.closed.abort();
  }

  /** The key for a token's `kid` and `alg`; KeyLookupError('unknown_kid' | 'jwks_unavailable') when there is none. */
  async key(kid: string | undefined, alg: string): Promise<PublicJwk> {
    const now = this.now();
    const age = now - this.fetchedAt;
    if (this.keys.length > 0 && age > this.config.staleMaxAgeMs) {
      this.keys = [];
      this.logger?.warn(
        { jwksUri: this.jwksUri, ageMs: age },
        'JWKS keys dropped: the provider has not answered for longer than jwks.staleMaxAgeMs',
      );
    }
    if (this.keys.length > 0) {
      if (age > this.config.cacheMaxAgeMs && this.pending === undefined && this.mayFetch(now, false))
        void this.refresh();
      const known = selectKey(this.keys, kid, alg);
      if (known !== undefined) return known;
      if (this.pending === undefined && !this.mayFetch(now, true)) throw new KeyLookupError('unknown_kid');
      await this.refresh();
      const fetched = selectKey(this.keys, kid, alg);
      if (fetched !== undefined) return fetched;
      throw new KeyLookupError(this.keys.length > 0 ? 'unknown_kid' : 'jwks_unavailable');
    }
    if (this.pending === undefined && !this.mayFetch(now, false)) throw new KeyLookupError('jwks_unavailable');
    await this.refresh();
    if (this.keys.length === 0) throw new KeyLookupError('jwks_unavailable');
    const key = selectKey(this.keys, kid, alg);
    if (key === undefined) throw new KeyLookupError('unknown_kid');
    return key;
  }

  private mayFetch(now: number, forUnknownKid: boolean): boolean {
    if (this.failures > 0) {
      const retryMs = Math.min(this.config.cooldownMs, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 30));
      return now >= this.attemptedAt + retryMs;
    }
    return !forUnknownKid || now >= this.attemptedAt + this.config.cooldownMs;
  }

  /** One fetch at a time: every caller waits on the same one. Resolves whether it brought keys; never rejects. */
  private refresh(): Promise<boolean> {
    if (this.pending !== undefined) return this.pending;
    this.attemptedAt = this.now();
    const pending = this.load().then(
      (keys) => {
        this.keys = keys;
        this.fetchedAt = this.now();
        if (this.failures > 0) this.logger?.info({ jwksUri: this.jwksUri }, 'JWKS fetched again: the provider answers');
        this.failures = 0;
        return true;
      },
      (error: unknown) => {
        // Stopped at shutdown: nothing to report.
        if (this.closed.signal.aborted) return false;
        this.failures++;
        // One line per outage, not per retry.
        if (this.failures === 1) {
          this.logger?.warn(
            {
              jwksUri: this.jwksUri ?? this.config.discoveryIssuer,
              error: (error as Error).message,
              keysHeld: this.keys.length,
            },
            'JWKS fetch failed: tokens signed with keys not held are refused until the provider answers',
          );
        }
        // A discovered JWKS URL may have moved: discover again next time.
        if (this.config.jwksUri === undefined) this.jwksUri = undefined;
        return false;
      },
    );
    this.pending = pending;
    void pending.finally(() => {
      if (this.pending === pending) this.pending = undefined;
    });
    return pending;
  }

  private async load(): Promise<PublicJwk[]> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.config.timeoutMs), this.closed.signal]);
    if (this.jwksUri === undefined) this.jwksUri = await this.discover(signal);
    const keys = signingKeys(await fetchJson(this.jwksUri, signal));
    if (keys.length === 0) throw new Error('the JWKS holds no usable signing key');
    return keys;
  }

  /** OpenID Connect Discovery 1.0 §4: the document must name the very issuer it was fetched for (§4.3). */
  private async discover(signal: AbortSignal): Promise<string> {
    const issuer = this.config.discoveryIssuer as string;
    const document = (await fetchJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, signal)) as {
      issuer?: unknown;
      jwks_uri?: unknown;
    } | null;
    if (document?.issuer !== issuer)
      throw new Error(
        `the discovery document names issuer ${JSON.stringify(document?.issuer)}, not ${JSON.stringify(issuer)}`,
      );
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== 'string') throw new Error('the discovery document has no jwks_uri');
    // The same rule as for a configured jwt.jwksUri, whatever the issuer's scheme: keys over plain http only from
    // the machine itself. Refused here, not at start-up: the app starts, and tokens get jwks_unavailable.
    const problem = keyUrlProblem(jwksUri);
    if (problem !== undefined) throw new Error(`the jwks_uri found by discovery ${problem}`);
    return jwksUri;
  }
}

async function fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
  const response = await fetch(url, { signal, headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const length = Number(response.headers.get('content-length'));
  if (length > MAX_DOCUMENT_CHARS) throw new Error(`GET ${url} answered ${length} bytes`);
  const text = await response.text();
  if (text.length > MAX_DOCUMENT_CHARS) throw new Error(`GET ${url} answered ${text.length} characters`);
  return JSON.parse(text);
}
