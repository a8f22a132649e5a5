import { Logger } from '@nestjs/common';
import { resolveAgentSecurityConfig } from './agent-security.config';
import type { AgentSecurityOptions } from './agent-security-options.interface';

const SECRET = 'x'.repeat(32);

function configWith(options: Partial<AgentSecurityOptions>) {
  return () => resolveAgentSecurityConfig({ jwt: { secret: SECRET }, ...options } as AgentSecurityOptions);
}

describe('resolveAgentSecurityConfig', () => {
  it('fills in the defaults', () => {
    const config = resolveAgentSecurityConfig({ jwt: { secret: SECRET } });
    expect(config.jwt.algorithms).toEqual(['HS256']);
    expect(config.jwt.requireExp).toBe(true);
    expect(config.defaultTier).toBe('free');
    expect([...config.tiers.keys()]).toEqual(['free', 'pro', 'enterprise']);
    expect(config.tiers.get('pro')).toEqual({ limit: 200, windowMs: 3_600_000 });
    expect(config.throttling.onStoreError).toBe('fallback');
    expect(config.throttling.batchScriptCalls).toBe(true);
  });

  it.each<[string, Partial<AgentSecurityOptions>, RegExp]>([
    ['no jwt options', { jwt: undefined }, /"jwt": is required/],
    ['a missing secret', { jwt: {} }, /"jwt.secret": is required/],
    [
      'a 31-byte HS256 secret',
      { jwt: { secret: 'x'.repeat(31) } },
      /"jwt.secret": is 31 bytes; HS256 needs at least 32/,
    ],
    [
      'a 32-byte HS512 secret',
      { jwt: { secret: SECRET, algorithms: ['HS512'] } },
      /"jwt.secret".*HS512 needs at least 64/,
    ],
    [
      'an unknown algorithm',
      { jwt: { secret: SECRET, algorithms: ['none' as never] } },
      /"jwt.algorithms": unknown algorithm "none"/,
    ],
    ['an empty algorithm list', { jwt: { secret: SECRET, algorithms: [] } }, /"jwt.algorithms"/],
    ['HMAC mixed with RSA', { jwt: { secret: SECRET, algorithms: ['HS256', 'RS256'] } }, /"jwt.algorithms": mixes/],
    ['RS256 without a public key', { jwt: { algorithms: ['RS256'] } }, /"jwt.publicKey"/],
    [
      'a negative tier limit',
      { tiers: { free: { limit: -1, windowMs: 1000 } } },
      /"tiers.free.limit": must be a whole number >= 0/,
    ],
    [
      'a non-number window',
      { tiers: { pro: { limit: 5, windowMs: '1h' as never } } },
      /"tiers.pro.windowMs": expected a number/,
    ],
    ['a zero window', { tiers: { pro: { limit: 5, windowMs: 0 } } }, /"tiers.pro.windowMs"/],
    ['a tier named anonymous', { tiers: { anonymous: { limit: 5, windowMs: 1000 } } }, /"tiers.anonymous"/],
    [
      'a token budget for anonymous callers',
      {
        anonymous: {
          limit: 5,
          windowMs: 1000,
          tokens: { limit: 10, windowMs: 1000 },
        } as AgentSecurityOptions['anonymous'],
      },
      /"anonymous.tokens": is not applied/,
    ],
    [
      'a stream cap for anonymous callers',
      { anonymous: { limit: 5, windowMs: 1000, maxConcurrentStreams: 1 } as AgentSecurityOptions['anonymous'] },
      /"anonymous.maxConcurrentStreams": is not applied/,
    ],
    ['an undefined default tier', { defaultTier: 'gold' }, /"defaultTier": names tier "gold"/],
    ['no tier at all', { tiers: {} }, /"tiers": defines no tier/],
    [
      'a default tier among the defaults but not the given tiers',
      { tiers: { gold: { limit: 1, windowMs: 1000 } }, defaultTier: 'pro' },
      /"defaultTier": names tier "pro", which is not one of the tiers \(gold\)/,
    ],
    ['an unknown store-error policy', { throttling: { onStoreError: 'ignore' as never } }, /"throttling.onStoreError"/],
    [
      'a batchScriptCalls that is not a boolean',
      { throttling: { batchScriptCalls: 'no' as never } },
      /"throttling.batchScriptCalls": must be true or false/,
    ],
    [
      '* with credentials',
      { cors: { origins: '*', credentials: true } },
      /"cors.origins": "\*" cannot be combined with credentials/,
    ],
    [
      '"null" with credentials',
      { cors: { origins: ['https://app.example', 'null'], credentials: true } },
      /"cors.origins": "null" cannot be combined with credentials: true: every sandboxed iframe/,
    ],
    [
      'a credentials pattern that matches "null"',
      { cors: { origins: /^(https:\/\/app\.example\.com|null)$/, credentials: true } },
      /"cors.origins": the pattern .* matches "null", which cannot be combined with credentials/,
    ],
    [
      'a credentials pattern that matches any site',
      { cors: { origins: [/^https?:\/\/.*$/g], credentials: true } },
      /"cors.origins": the pattern \/\^https\?:.* matches "https:\/\/agent-security-probe.invalid", so it lets in any site/,
    ],
    [
      'credentials as a string',
      { cors: { origins: 'https://app.example', credentials: 'false' as never } },
      /"cors.credentials": must be true or false, got "false"/,
    ],
    ['cors: true', { cors: true as never }, /"cors": expected \{ origins, ... \} or false/],
    [
      "Nest's origin key for origins",
      { cors: { origin: 'https://app.example' } as never },
      /"cors.origin": is not an option; did you mean "cors.origins"\?/,
    ],
    ['an empty origin list', { cors: { origins: [] } }, /"cors.origins": expected an origin/],
    ['an origin that is a number', { cors: { origins: [42 as never] } }, /"cors.origins"/],
    [
      'an origin with a trailing slash',
      { cors: { origins: ['https://app.example/'] } },
      /"cors.origins": "https:\/\/app.example\/" is not an origin as browsers send it; did you mean "https:\/\/app.example"\?/,
    ],
    ['an origin in capitals', { cors: { origins: 'HTTPS://App.Example' } }, /did you mean "https:\/\/app.example"/],
    [
      'an origin without a scheme',
      { cors: { origins: ['app.example'] } },
      /"cors.origins": "app.example" is not an origin as browsers send it \(scheme:\/\/host\[:port\]\)/,
    ],
    [
      'methods as a string',
      { cors: { origins: '*', methods: 'GET' as never } },
      /"cors.methods": expected a list of strings/,
    ],
    ['a negative maxAge', { cors: { origins: '*', maxAge: -1 } }, /"cors.maxAge"/],
    [
      'an empty log path',
      { logging: { destination: '' } },
      /"logging.destination": must be a file path, a file descriptor, or a stream/,
    ],
    ['a fractional file descriptor', { logging: { destination: 1.5 } }, /"logging.destination"/],
    ['an object without write()', { logging: { destination: {} as never } }, /"logging.destination"/],
    ['a negative file descriptor', { logging: { destination: -1 } }, /"logging.destination"/],
    [
      'a path with a pino transport',
      { logging: { destination: '/tmp/x.log', pino: { transport: { target: 'pino/file' } } } },
      /"logging.destination": a path or a file descriptor cannot be combined/,
    ],
  ])('refuses %s, naming the option', (_name, options, message) => {
    expect(configWith(options)).toThrow(message);
  });

  it.each<[string, Partial<AgentSecurityOptions>]>([
    ['jwt.allowQueryToken', { jwt: { secret: SECRET, allowQueryToken: 'false' as never } }],
    ['jwt.requireExp', { jwt: { secret: SECRET, requireExp: 0 as never } }],
    ['cors.credentials', { cors: { origins: 'https://app.example', credentials: 1 as never } }],
    ['logging.trustIncomingRequestId', { logging: { trustIncomingRequestId: 'false' as never } }],
    ['throttling.batchScriptCalls', { throttling: { batchScriptCalls: 'true' as never } }],
    ['errorFilter', { errorFilter: 0 as never }],
  ])('refuses %s unless it is true or false (a string "false" is truthy, 0 falsy)', (option, options) => {
    expect(configWith(options)).toThrow(
      new RegExp(`invalid option "${option.replace('.', '\\.')}": must be true or false, got `),
    );
  });

  it('takes true and false for every switch', () => {
    for (const value of [true, false]) {
      const config = resolveAgentSecurityConfig({
        jwt: { secret: SECRET, allowQueryToken: value, requireExp: value },
        cors: { origins: 'https://app.example', credentials: value },
        logging: { trustIncomingRequestId: value },
        throttling: { batchScriptCalls: value },
        errorFilter: value,
      });
      expect([
        config.jwt.allowQueryToken,
        config.jwt.requireExp,
        config.throttling.batchScriptCalls,
        config.errorFilter,
      ]).toEqual([value, value, value, value]);
    }
  });

  it.each<[string, unknown]>([
    ['true', true],
    ['null', null],
    ['a string', 'off'],
  ])('refuses logging: %s, naming the option', (_name, logging) => {
    expect(configWith({ logging: logging as never })).toThrow(
      /invalid option "logging": expected \{ level, redact, \.\.\. \} or false/,
    );
  });

  it.each<[string, unknown, RegExp]>([
    [
      'logging.redact as one string',
      { redact: 'apiKey' },
      /"logging.redact": expected a list of paths \(strings\), got "apiKey"; write \["apiKey"\]/,
    ],
    ['logging.redact with a number', { redact: ['apiKey', 3] }, /"logging.redact": expected a list of paths/],
    ['logging.redact with an empty path', { redact: [''] }, /"logging.redact": expected a list of paths/],
    [
      'logging.pino.redact as one string',
      { pino: { redact: 'apiKey' } },
      /"logging.pino.redact": expected a list of paths \(strings\) or \{ paths: string\[\], censor\?, remove\? \}, got "apiKey"/,
    ],
    [
      'logging.pino.redact without paths',
      { pino: { redact: { censor: 'x' } } },
      /"logging.pino.redact.paths": expected a list of paths/,
    ],
    [
      'logging.pino.redact.paths as one string',
      { pino: { redact: { paths: 'apiKey' } } },
      /"logging.pino.redact.paths": expected a list of paths \(strings\), got "apiKey"/,
    ],
    [
      'a censor that is a number',
      { pino: { redact: { paths: ['a'], censor: 0 } } },
      /"logging.pino.redact.censor": must be a string or a function/,
    ],
    [
      'remove as a string',
      { pino: { redact: { paths: ['a'], remove: 'true' } } },
      /"logging.pino.redact.remove": must be true or false/,
    ],
    ['logging.pino as a string', { pino: 'debug' }, /"logging.pino": expected pino options/],
    [
      "Nest's verbose level",
      { level: 'verbose' },
      /"logging.level": must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"; "verbose" is Nest's name, pino's is "trace"/,
    ],
    ['an unknown level', { level: 'loud' }, /"logging.level": must be one of .*, got "loud"$/],
    ['a level that is a number', { level: 30 }, /"logging.level": must be one of/],
  ])('refuses %s, naming the option', (_name, logging, message) => {
    expect(configWith({ logging: logging as never })).toThrow(message);
  });

  it.each<[string, unknown]>([
    ['a list', { redact: ['apiKey'], pino: { redact: ['*.secret'] } }],
    [
      '{ paths, censor, remove }',
      { pino: { redact: { paths: ['apiKey'], censor: (v: unknown) => typeof v, remove: false } } },
    ],
    ['{ paths } with a string censor', { pino: { redact: { paths: ['apiKey'], censor: '***' } } }],
  ])('accepts redaction as %s', (_name, logging) => {
    expect(configWith({ logging: logging as never })).not.toThrow();
  });

  it.each<[string, unknown, RegExp]>([
    ['Infinity', Infinity, /"jwt.clockToleranceSec": must be a finite number of seconds from 0 to 300, got Infinity/],
    ['NaN', NaN, /"jwt.clockToleranceSec": must be a finite number/],
    ['a negative number', -1, /"jwt.clockToleranceSec": must be a finite number/],
    ['a string', '30', /"jwt.clockToleranceSec": must be a finite number of seconds from 0 to 300, got "30"/],
    ['a day', 86_400, /"jwt.clockToleranceSec": is 86400 seconds; at most 300 is accepted/],
  ])('refuses jwt.clockToleranceSec %s: exp would be enforced late or never', (_name, clockToleranceSec, message) => {
    expect(configWith({ jwt: { secret: SECRET, clockToleranceSec: clockToleranceSec as number } })).toThrow(message);
  });

  it('takes jwt.clockToleranceSec from 0 to 300 seconds', () => {
    for (const clockToleranceSec of [0, 2.5, 300]) {
      expect(resolveAgentSecurityConfig({ jwt: { secret: SECRET, clockToleranceSec } }).jwt.clockToleranceSec).toBe(
        clockToleranceSec,
      );
    }
  });

  it("accepts pino's levels and the app's custom levels as logging.level", () => {
    expect(configWith({ logging: { level: 'debug' } })).not.toThrow();
    expect(configWith({ logging: { level: 'audit', pino: { customLevels: { audit: 35 } } } })).not.toThrow();
  });

  it('keeps only the given tiers', () => {
    const config = resolveAgentSecurityConfig({
      jwt: { secret: SECRET },
      tiers: { free: { limit: 1, windowMs: 1000 }, pro: { limit: 2, windowMs: 1000 } },
    });
    expect([...config.tiers.keys()]).toEqual(['free', 'pro']);
  });

  it.each<[string, unknown, RegExp]>([
    [
      'jwt.audiance',
      { jwt: { secret: SECRET, audiance: 'api' } },
      /invalid option "jwt.audiance": is not an option; did you mean "jwt.audience"\?/,
    ],
    ['tirs', { tirs: { free: { limit: 1, windowMs: 1000 } } }, /"tirs": is not an option; did you mean "tiers"\?/],
    [
      "a tier's token",
      { tiers: { free: { limit: 1, windowMs: 1000, token: { limit: 5, windowMs: 1000 } } } },
      /"tiers.free.token": is not an option; did you mean "tiers.free.tokens"\?/,
    ],
    [
      'a token budget key',
      { tiers: { free: { limit: 1, windowMs: 1000, tokens: { limit: 5, windowMS: 1000 } } } },
      /"tiers.free.tokens.windowMS": is not an option; did you mean "tiers.free.tokens.windowMs"\?/,
    ],
    ['a key like none', { throttling: { retries: 3 } }, /"throttling.retries": is not an option\)?$/],
    [
      'two at once',
      { jwt: { secret: SECRET, isuer: 'x' }, logging: { levle: 'debug' } },
      /"jwt.isuer".*did you mean "jwt.issuer"\?.*also: "logging.levle" is not an option; did you mean "logging.level"\?/,
    ],
  ])('refuses the unknown key %s, with its path and a did-you-mean', (_name, options, message) => {
    expect(() => resolveAgentSecurityConfig(options as AgentSecurityOptions)).toThrow(message);
  });

  it('does not look into values that belong to other libraries', () => {
    expect(() =>
      resolveAgentSecurityConfig({
        jwt: { secret: SECRET },
        redis: { host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null } as never,
        logging: { pino: { redact: ['x'], base: { app: 1 } }, destination: { write: () => true } as never },
        cors: { origins: [/^https:\/\/a\.example$/] },
      }),
    ).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['a list of origins and patterns', ['https://app.example', /^https:\/\/[a-z]+\.example\.org$/]],
    ['a predicate', (origin: string) => origin.endsWith('.example')],
    ['"*"', '*'],
    ['"null" (sandboxed frames, file: pages) and a port', ['null', 'http://localhost:5173']],
  ])('accepts %s as cors.origins', (_name, origins) => {
    expect(configWith({ cors: { origins: origins as never } })).not.toThrow();
  });

  it.each<[string, unknown]>([
    ['a path', '/var/log/agent.log'],
    ['stdout by descriptor', 1],
    ['a stream', { write: () => true }],
  ])('accepts %s as logging.destination', (_name, destination) => {
    expect(configWith({ logging: { destination: destination as never } })).not.toThrow();
  });

  describe('an origin RegExp', () => {
    let warn: jest.SpyInstance;
    beforeEach(() => {
      warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    });
    afterEach(() => warn.mockRestore());
    const warnings = () => warn.mock.calls.map(([message]) => String(message));

    it.each<[string, RegExp]>([
      ['without ^', /app\.example\.com$/],
      ['without $', /^https:\/\/app\.example\.com/],
      ['with an escaped $ only', /^https:\/\/app\.example\.com\$/],
      ['with an alternative left open', /^https:\/\/a\.example$|b\.example$/],
    ])('%s warns at start-up, naming it, with the evil.example example', (_name, pattern) => {
      resolveAgentSecurityConfig({ jwt: { secret: SECRET }, cors: { origins: ['https://app.example', pattern] } });
      expect(warnings()).toEqual([
        expect.stringContaining(`the pattern ${String(pattern)} is not anchored with ^ and $`),
      ]);
      expect(warnings()[0]).toContain('https://app.example.com.evil.example');
    });

    it.each<[string, RegExp]>([
      ['anchored', /^https:\/\/app\.example\.com$/],
      ['anchored around a group', /^https:\/\/(a|b)\.example$/],
      ['anchored in each alternative', /^https:\/\/a\.example$|^https:\/\/b\.example$/],
      ['with a | inside a class', /^https:\/\/[a|b]\.example$/i],
    ])('%s does not warn', (_name, pattern) => {
      resolveAgentSecurityConfig({ jwt: { secret: SECRET }, cors: { origins: pattern } });
      expect(warnings()).toEqual([]);
    });
  });
});

describe('resolveAgentSecurityConfig, issuer mode (jwt.issuer without secret or publicKey)', () => {
  it('refuses a secret or publicKey given as undefined or empty (an unset environment variable) instead of turning issuer mode on', () => {
    const issuer = { issuer: 'https://auth.example.com/', audience: 'agent-api' };
    for (const jwt of [
      { ...issuer, secret: undefined },
      { ...issuer, secret: '' },
      { ...issuer, publicKey: undefined },
    ]) {
      expect(() => resolveAgentSecurityConfig({ jwt } as AgentSecurityOptions)).toThrow(
        /"jwt\.(secret|publicKey)": is (undefined|"") \(an unset environment variable\?\)/,
      );
    }
    expect(resolveAgentSecurityConfig({ jwt: issuer }).jwt.jwks).toBeDefined();
  });

  const ISSUER = 'https://idp.example/';
  const issuerMode = (jwt: Record<string, unknown>) => () =>
    resolveAgentSecurityConfig({ jwt } as AgentSecurityOptions);

  it('fills in every public-key algorithm and the JWKS defaults', () => {
    const config = resolveAgentSecurityConfig({ jwt: { issuer: ISSUER, audience: 'api' } });
    expect(config.jwt.key).toBeUndefined();
    expect(config.jwt.algorithms).toEqual([
      'RS256',
      'RS384',
      'RS512',
      'PS256',
      'PS384',
      'PS512',
      'ES256',
      'ES384',
      'ES512',
      'EdDSA',
    ]);
    expect(config.jwt.jwks).toEqual({
      discoveryIssuer: ISSUER,
      jwksUri: undefined,
      cooldownMs: 30_000,
      timeoutMs: 5_000,
      cacheMaxAgeMs: 600_000,
      staleMaxAgeMs: 86_400_000,
    });
  });

  it('takes a jwksUri instead of discovery, and a list of issuers with it', () => {
    const config = resolveAgentSecurityConfig({
      jwt: { issuer: [ISSUER, 'https://b.example/'], jwksUri: 'https://idp.example/keys', audience: 'api' },
    });
    expect(config.jwt.jwks).toMatchObject({ discoveryIssuer: undefined, jwksUri: 'https://idp.example/keys' });
  });

  it('stays secret mode with a secret and an issuer', () => {
    expect(resolveAgentSecurityConfig({ jwt: { secret: SECRET, issuer: ISSUER } }).jwt.jwks).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['no audience', { issuer: ISSUER }, /"jwt.audience": is required in issuer mode/],
    [
      'HS256',
      { issuer: ISSUER, audience: 'api', algorithms: ['HS256'] },
      /"jwt.algorithms": HS256 is refused in issuer mode/,
    ],
    [
      'a jwksUri without an issuer',
      { jwksUri: 'https://idp.example/keys', audience: 'api' },
      /"jwt.issuer": is required in issuer mode/,
    ],
    [
      'several issuers to discover',
      { issuer: [ISSUER, 'https://b.example/'], audience: 'api' },
      /"jwt.issuer": must be one issuer for discovery/,
    ],
    [
      'an http issuer off loopback',
      { issuer: 'http://idp.example/', audience: 'api' },
      /"jwt.issuer": must be an https URL/,
    ],
    [
      'an http issuer on a DNS name under 127.0.0.1',
      { issuer: 'http://127.0.0.1.nip.io', audience: 'api' },
      /"jwt.issuer": must be an https URL \(http only on a loopback host: 127.0.0.0\/8, localhost, \[::1\]\)/,
    ],
    [
      'an http jwksUri on a DNS name starting with 127.',
      { issuer: ISSUER, jwksUri: 'http://127.attacker.example/jwks', audience: 'api' },
      /"jwt.jwksUri": must be an https URL/,
    ],
    [
      'a jwksUri that is no URL',
      { issuer: ISSUER, jwksUri: 'keys.json', audience: 'api' },
      /"jwt.jwksUri": must be an absolute URL/,
    ],
    [
      'a jwksUri with a secret',
      { secret: SECRET, jwksUri: 'https://idp.example/keys' },
      /"jwt.jwksUri": cannot be combined with jwt.secret/,
    ],
    [
      'jwks options in secret mode',
      { secret: SECRET, jwks: { cooldownMs: 1 } },
      /"jwt.jwks": applies in issuer mode only/,
    ],
    ['a negative cooldown', { issuer: ISSUER, audience: 'api', jwks: { cooldownMs: -1 } }, /"jwt.jwks.cooldownMs"/],
    ['a zero timeout', { issuer: ISSUER, audience: 'api', jwks: { timeoutMs: 0 } }, /"jwt.jwks.timeoutMs"/],
    [
      'a stale max age under the cache max age',
      { issuer: ISSUER, audience: 'api', jwks: { cacheMaxAgeMs: 1000, staleMaxAgeMs: 999 } },
      /"jwt.jwks.staleMaxAgeMs": must be a whole number of milliseconds >= 1000/,
    ],
    [
      'EdDSA with a PEM key',
      { publicKey: 'pem', algorithms: ['EdDSA'] },
      /"jwt.algorithms": EdDSA is verified in issuer mode only/,
    ],
  ])('refuses %s, naming the option', (_name, jwt, message) => {
    expect(issuerMode(jwt)).toThrow(message);
  });

  it('takes http on a loopback host (a provider on the same machine, tests)', () => {
    expect(
      resolveAgentSecurityConfig({ jwt: { issuer: 'http://127.0.0.1:9000', audience: 'api' } }).jwt.jwks
        ?.discoveryIssuer,
    ).toBe('http://127.0.0.1:9000');
    for (const jwksUri of [
      'http://localhost:9000/jwks',
      'http://[::1]:9000/jwks',
      'http://127.0.0.2/jwks',
      'http://127.1:9000/jwks',
    ]) {
      expect(resolveAgentSecurityConfig({ jwt: { issuer: ISSUER, jwksUri, audience: 'api' } }).jwt.jwks?.jwksUri).toBe(
        jwksUri,
      );
    }
  });
});
