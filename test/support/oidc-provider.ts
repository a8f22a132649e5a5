import { generateKeyPairSync } from 'crypto';
import type { JWK as JsonWebKey } from 'jose';
import type { Server } from 'http';
import Provider from 'oidc-provider';
import { freePort } from './redis-server.js';

/**
 * A real OpenID Provider (oidc-provider, OpenID Certified) on a loopback port, for tests of issuer mode.
 * It issues RS256 JWT access tokens (`typ: at+jwt`) by `client_credentials` with resource indicators (RFC 8707):
 * `aud` is the resource asked for (the `resource` option by default), `sub` the client id, `scope` what was asked.
 */

/** A client of the provider: `secret` defaults to `<id>-secret`, `scope` to every scope the provider knows. */
export interface ProviderClient {
  id: string;
  secret?: string;
  scope?: string;
}

export interface ProviderOptions {
  /** Default: a free port. Given again by restart(), so the issuer stays the same. */
  port?: number;
  /** Private signing JWKs (with `kid`): the first one signs, all are published. Default: one fresh RSA key. */
  keys?: JsonWebKey[];
  /** Default: one client `agent` allowed every scope. */
  clients?: ProviderClient[];
  /** Every scope a client may ask for. Default `['agent:tools', 'agent:read']`. */
  scopes?: string[];
  /** The absolute URI of the API (RFC 8707): the tokens' default audience. Default `https://api.test/`. */
  resource?: string;
  /** Claims added to every access token (a tier, say), or a function of the client id. */
  extraClaims?: Record<string, unknown> | ((clientId: string) => Record<string, unknown> | undefined);
}

export interface TokenOptions {
  /** Another audience than the provider's `resource`. */
  resource?: string;
}

export interface RunningProvider {
  /** `http://127.0.0.1:<port>`, as in the tokens' `iss` and discovery. */
  readonly issuer: string;
  readonly port: number;
  /** The published JWKS URI (`<issuer>/jwks`). */
  readonly jwksUri: string;
  /** The keys it signs with now (private JWKs, the first one signs). */
  readonly keys: JsonWebKey[];
  /** An access token by client_credentials; `scope` space-separated. */
  token(clientId: string, scope?: string, options?: TokenOptions): Promise<string>;
  /** Stop listening (connections refused from then on). */
  stop(): Promise<void>;
  /** Start again on the same port and issuer, with these keys (the first one signs): a key rotation. */
  restart(keys?: JsonWebKey[]): Promise<void>;
  /** While on, every request is accepted and never answered (a hung provider). */
  hang(on: boolean): void;
  /** GET /jwks requests received since start (restarts included). */
  jwksRequests(): number;
  /** GET /.well-known/openid-configuration requests received since start. */
  discoveryRequests(): number;
}

/** A fresh RSA signing key as a private JWK, with its `kid`, `alg` and `use`. */
export function rsaSigningKey(kid: string, modulusLength = 2048): JsonWebKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength });
  return { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
}

/** The public half of a private JWK, as a JWKS publishes it. */
export function publicJwk(key: JsonWebKey): JsonWebKey {
  const { d, p, q, dp, dq, qi, ...rest } = key;
  (void d, p, q, dp, dq, qi);
  return rest;
}

let keyCounter = 0;

/** Its own stored objects in a Map: the provider's built-in memory adapter warns on every start. */
function mapAdapter() {
  const store = new Map<string, Record<string, unknown>>();
  return class MapAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>) {
      store.set(this.key(id), payload);
    }
    async find(id: string) {
      return store.get(this.key(id));
    }
    async findByUid(uid: string) {
      return [...store.values()].find((payload) => payload.uid === uid);
    }
    async findByUserCode(userCode: string) {
      return [...store.values()].find((payload) => payload.userCode === userCode);
    }
    async consume(id: string) {
      const payload = store.get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, payload] of store) if (payload.grantId === grantId) store.delete(key);
    }
  };
}

export async function startProvider(options: ProviderOptions = {}): Promise<RunningProvider> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const scopes = options.scopes ?? ['agent:tools', 'agent:read'];
  const resource = options.resource ?? 'https://api.test/';
  const clients = (options.clients ?? [{ id: 'agent' }]).map((client) => ({
    id: client.id,
    secret: client.secret ?? `${client.id}-secret`,
    scope: client.scope ?? scopes.join(' '),
  }));
  let keys = options.keys ?? [rsaSigningKey(`key-${++keyCounter}`)];
  let jwks = 0;
  let discovery = 0;
  let hanging = false;
  const hung = new Set<() => void>();
  let server: Server | undefined;

  const extraClaims = (clientId: string) =>
    typeof options.extraClaims === 'function' ? options.extraClaims(clientId) : options.extraClaims;

  function build(): Provider {
    const provider = new Provider(issuer, {
      adapter: mapAdapter(),
      clients: clients.map((client) => ({
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: client.scope,
      })),
      scopes,
      ttl: { ClientCredentials: 600 },
      jwks: { keys: keys as never },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => ({
            scope: scopes.join(' '),
            audience: indicator,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      extraTokenClaims: (_ctx: unknown, token: { clientId?: string }) => extraClaims(token.clientId ?? ''),
    } as never);
    provider.use(
      async (
        ctx: { path: string; method: string; set(name: string, value: string): void },
        next: () => Promise<void>,
      ) => {
        // No kept-alive sockets: a client must not meet a closed one from before a restart.
        ctx.set('Connection', 'close');
        if (hanging) {
          await new Promise<void>((resolve) => hung.add(resolve));
          return;
        }
        if (ctx.method === 'GET' && ctx.path === '/jwks') jwks++;
        if (ctx.method === 'GET' && ctx.path === '/.well-known/openid-configuration') discovery++;
        await next();
      },
    );
    return provider;
  }

  async function listen(): Promise<void> {
    const provider = build();
    await new Promise<void>((resolve, reject) => {
      const listening = provider.listen(port, '127.0.0.1') as Server;
      listening.once('listening', () => resolve());
      listening.once('error', reject);
      server = listening;
    });
  }

  async function stop(): Promise<void> {
    const running = server;
    server = undefined;
    if (running === undefined) return;
    running.closeAllConnections();
    await new Promise<void>((resolve) => running.close(() => resolve()));
    // A hung request's promise is let go so nothing waits on it after the server is gone.
    for (const release of hung) release();
    hung.clear();
  }

  await listen();

  return {
    issuer,
    port,
    jwksUri: `${issuer}/jwks`,
    get keys() {
      return keys;
    },
    async token(clientId, scope, tokenOptions = {}) {
      const client = clients.find((candidate) => candidate.id === clientId);
      if (client === undefined) throw new Error(`no client ${clientId}`);
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (scope !== undefined) body.set('scope', scope);
      if (tokenOptions.resource !== undefined) body.set('resource', tokenOptions.resource);
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
      const answer = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || answer.access_token === undefined) {
        throw new Error(`token request failed: ${response.status} ${answer.error} ${answer.error_description}`);
      }
      return answer.access_token;
    },
    stop,
    async restart(newKeys) {
      await stop();
      if (newKeys !== undefined) keys = newKeys;
      await listen();
    },
    hang(on) {
      hanging = on;
      if (!on) {
        for (const release of hung) release();
        hung.clear();
      }
    },
    jwksRequests: () => jwks,
    discoveryRequests: () => discovery,
  };
}
