// One benchmark variant as its own process: `node bench/variants/server.mjs <variant> <port>`.
// Prints `READY <port>` once listening on 127.0.0.1. Reads BENCH_REDIS_URL, BENCH_LOG_FILE, BENCH_TOKENS_FILE, and for
// the JWKS rows BENCH_ISSUER and BENCH_JWKS_URI.
// Plain JavaScript: decorators are applied by calling them (no TypeScript step).
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import {
  Controller,
  Get,
  HttpCode,
  HttpException,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { JwtModule, JwtService } from '@nestjs/jwt';
import { ThrottlerGuard, ThrottlerModule, ThrottlerStorageService } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { LoggerModule } from 'nestjs-pino';
import { AuthGuard as PassportAuthGuard, PassportModule, PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { passportJwtSecret } from 'jwks-rsa';
import pino from 'pino';
import { Redis } from 'ioredis';
import * as core from '@agent-security/core';
// Internal parts, by path under the built library: a variant wires them without the module.
import { resolveAgentSecurityConfig } from '../../libs/agent-security/dist/agent-security.config.js';
import { AuthGuard } from '../../libs/agent-security/dist/auth/auth.guard.js';
import { TokenVerifier } from '../../libs/agent-security/dist/auth/token-verifier.js';
import { CorsMiddleware } from '../../libs/agent-security/dist/cors/cors.middleware.js';
import {
  createRootLogger,
  DEFAULT_REDACT_PATHS,
  loggerParams,
} from '../../libs/agent-security/dist/logging/logger-options.js';
import { FrontDoor } from '../../libs/agent-security/dist/http/front-door.js';
import { AGENT_SECURITY_CONFIG } from '../../libs/agent-security/dist/agent-security.constants.js';
import { AGENT_SECURITY_LOGGER } from '../../libs/agent-security/dist/logging/logging.constants.js';
import { AGENT_SECURITY_STORE } from '../../libs/agent-security/dist/throttling/throttling.constants.js';
import { AGENT_SECURITY_ADMISSION_STORE } from '../../libs/agent-security/dist/admission/admission.constants.js';
import { UsageSessions } from '../../libs/agent-security/dist/usage/usage-session.js';
import { TierThrottlerGuard } from '../../libs/agent-security/dist/throttling/tier-throttler.guard.js';
import { SLIDING_WINDOW_SCRIPT } from '../../libs/agent-security/dist/throttling/sliding-window.script.js';
import {
  EXPOSED_HEADERS,
  FILLED_LIMIT,
  HUGE_LIMIT,
  ORIGIN,
  PREFILL_ENTRIES,
  SECRET,
  TIERS,
  WINDOW_MS,
  readTokens,
} from '../lib/common.mjs';
import { JWKS_AUDIENCE } from '../lib/jwks.mjs';

const [variantName, portText] = process.argv.slice(2);
const port = Number(portText);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LOG_FILE = process.env.BENCH_LOG_FILE ?? join(tmpdir(), `agent-security-bench-${process.pid}.log`);

const lib = {
  ...core,
  resolveAgentSecurityConfig,
  AuthGuard,
  TokenVerifier,
  CorsMiddleware,
  createRootLogger,
  loggerParams,
  DEFAULT_REDACT_PATHS,
  FrontDoor,
  TierThrottlerGuard,
  AGENT_SECURITY_CONFIG,
  AGENT_SECURITY_LOGGER,
  AGENT_SECURITY_STORE,
  AGENT_SECURITY_ADMISSION_STORE,
  UsageSessions,
};

/** A named export of the library, or a clear error naming it (the library is being worked on). */
function ours(name) {
  if (!(name in lib)) throw new Error(`@agent-security/core does not export ${name}`);
  return lib[name];
}

// ---------------------------------------------------------------------------------------------
// The one handler every variant serves: GET /me -> { userId, tier }.
function meController(kind, me) {
  class MeController {
    me(arg) {
      if (kind === 'principal') return { userId: arg.userId, tier: arg.tier };
      const caller = arg.principal ?? arg.user;
      return { userId: caller?.userId ?? caller?.sub ?? 'anonymous', tier: caller?.tier ?? 'pro' };
    }
  }
  // A variant's own handler (x16 to x18), under the same route and parameter decorators.
  if (me !== undefined) MeController.prototype.me = me;
  Controller()(MeController);
  if (kind === 'principal') ours('CurrentPrincipal')()(MeController.prototype, 'me', 0);
  else Req()(MeController.prototype, 'me', 0);
  Get('me')(MeController.prototype, 'me', Object.getOwnPropertyDescriptor(MeController.prototype, 'me'));
  return MeController;
}

/** What the stand-in model reports for one chat turn (rows 6i and 7e). */
const CHAT_USAGE = Object.freeze({ inputTokens: 20, outputTokens: 30 });
/** A token budget no run reaches, so every turn does the budget's work and none is refused. */
const CHAT_TOKEN_LIMIT = 1e15;

/**
 * POST /agent/chat (200), the budgeted-chat rows' handler. `budget` decorates it (ours: @TokenBudget()); `chat` is
 * the handler, given the request.
 */
function chatController(chat, budget) {
  class ChatController {
    chat(req) {
      return chat(req);
    }
  }
  Controller('agent')(ChatController);
  Req()(ChatController.prototype, 'chat', 0);
  const descriptor = Object.getOwnPropertyDescriptor(ChatController.prototype, 'chat');
  if (budget !== undefined) budget(ChatController.prototype, 'chat', descriptor);
  HttpCode(200)(ChatController.prototype, 'chat', descriptor);
  Post('chat')(ChatController.prototype, 'chat', descriptor);
  return ChatController;
}

function appModule(metadata) {
  class AppModule {}
  Module(metadata)(AppModule);
  return AppModule;
}

// ---------------------------------------------------------------------------------------------
// @nestjs/throttler pieces.
/**
 * Keyed per caller: the raw Authorization header (1,000 distinct tokens -> 1,000 keys). It is the cheapest
 * per-caller tracker there is (no decoding); ThrottlerGuard's stock generateKey then sha256-hashes it.
 */
const trackByAuthorization = (req) => req.headers.authorization ?? req.ip;

function throttlerModule(storage, limit = HUGE_LIMIT, getTracker = trackByAuthorization) {
  return ThrottlerModule.forRoot({
    throttlers: [{ name: 'default', limit, ttl: WINDOW_MS }],
    ...(storage ? { storage } : {}),
    getTracker,
  });
}

/** The key ThrottlerGuard forms for a caller on GET /me (stock generateKey: sha256 of class-handler-name-tracker). */
function throttlerKey(Me, tracker) {
  const context = { getClass: () => Me, getHandler: () => Me.prototype.me };
  return ThrottlerGuard.prototype.generateKey.call(null, context, tracker, 'default');
}

/**
 * Fills each of `keys` with PREFILL_ENTRIES entries spread evenly over the last WINDOW_MS, so every window is
 * at a steady state: full, and ~PREFILL_ENTRIES/60 entries per caller age out each second. `spend(key)` adds
 * one entry. The clock is faked during the fill only: Date.now for the stock storage, which reads it on every
 * call; `setClock` for ours, which keeps the clock it was constructed with.
 */
async function fillWindows(
  keys,
  spend,
  setClock = (now) => {
    Date.now = now;
  },
) {
  const realNow = Date.now;
  const start = realNow() - WINDOW_MS;
  try {
    for (let i = 0; i < PREFILL_ENTRIES; i++) {
      const t = start + Math.floor((i * WINDOW_MS) / PREFILL_ENTRIES);
      setClock(() => t);
      for (const key of keys) await spend(key);
    }
  } finally {
    setClock(realNow);
  }
}

/** Pre-fills a @nestjs/throttler storage under the keys ThrottlerGuard forms for the token pool on GET /me. */
function prefill(Me, storage, setClock) {
  const keys = readTokens(process.env.BENCH_TOKENS_FILE).map((token) => throttlerKey(Me, `Bearer ${token}`));
  return fillWindows(keys, (key) => storage.increment(key, WINDOW_MS, FILLED_LIMIT, WINDOW_MS, 'default'), setClock);
}

/**
 * Our memory storage with a clock the fill can move: the constructor's `now` option during the fill, then
 * the instance's clock field set back to Date.now itself, so the measured run pays no extra call.
 */
function ourMemoryForFill() {
  let clock = Date.now;
  const storage = new (ours('MemoryThrottlerStorage'))({ now: () => clock() });
  const setClock = (now) => {
    clock = now;
    if (now === Date.now) {
      if (!('now' in storage))
        throw new Error('MemoryThrottlerStorage has no `now` field any more: update bench/variants/server.mjs');
      storage.now = Date.now;
    }
  };
  return { storage, setClock };
}

// ---------------------------------------------------------------------------------------------
// Hand-assembled pieces, the way the NestJS docs show them.
/** The docs' AuthGuard: split the header, JwtService.verifyAsync, put the payload on request.user. */
class JwtAuthGuard {
  constructor(jwtService) {
    this.jwtService = jwtService;
  }
  async canActivate(context) {
    const request = context.switchToHttp().getRequest();
    const [type, token] = request.headers.authorization?.split(' ') ?? [];
    if (type !== 'Bearer' || !token) throw new UnauthorizedException();
    try {
      request.user = await this.jwtService.verifyAsync(token, { secret: SECRET });
    } catch {
      throw new UnauthorizedException();
    }
    return true;
  }
}
const handJwtModule = () => JwtModule.register({ global: true, secret: SECRET });
const handJwtGuard = () => ({
  provide: APP_GUARD,
  useFactory: (jwtService) => new JwtAuthGuard(jwtService),
  inject: [JwtService],
});

/** nestjs-pino to a file, request id from randomUUID echoed in X-Request-Id, the Authorization header redacted. */
const handPino = () =>
  LoggerModule.forRoot({
    pinoHttp: [
      {
        level: 'info',
        genReqId: (req, res) => {
          const existing = req.id ?? req.headers['x-request-id'];
          if (existing) return existing;
          const id = randomUUID();
          res.setHeader('X-Request-Id', id);
          return id;
        },
        redact: ['req.headers.authorization'],
      },
      pino.destination({ dest: LOG_FILE, sync: false }),
    ],
  });

const handCors = (app) => app.enableCors({ origin: [ORIGIN], exposedHeaders: EXPOSED_HEADERS });

/**
 * RS256 from a JWKS by hand, as the NestJS and Auth0 guides assemble it: passport-jwt's strategy with jwks-rsa's
 * passportJwtSecret (its key cache and JWKS rate limit on) as the key provider, issuer, audience and RS256 checked,
 * behind @nestjs/passport's AuthGuard('jwt') as a global guard. It verifies every request's signature.
 */
function handJwksStrategy() {
  class BenchJwtStrategy extends PassportStrategy(JwtStrategy, 'jwt') {
    constructor() {
      super({
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKeyProvider: passportJwtSecret({
          cache: true,
          rateLimit: true,
          jwksRequestsPerMinute: 10,
          jwksUri: process.env.BENCH_JWKS_URI,
        }),
        issuer: process.env.BENCH_ISSUER,
        audience: JWKS_AUDIENCE,
        algorithms: ['RS256'],
      });
    }
    validate(payload) {
      return { userId: payload.sub, tier: payload.tier };
    }
  }
  Injectable()(BenchJwtStrategy);
  return BenchJwtStrategy;
}

// ---------------------------------------------------------------------------------------------
// Our parts on their own, wired from the library's exports exactly as AgentSecurityModule wires them.
function ourConfig(extra = {}) {
  return ours('resolveAgentSecurityConfig')({ jwt: { secret: SECRET }, tiers: TIERS, ...extra });
}

/** The whole stack: AgentSecurityModule with JWT, limits on Redis, logging to a file, request id, CORS. */
function oursFull({ redis = REDIS_URL, logging = {} } = {}) {
  const AgentSecurityModule = ours('AgentSecurityModule');
  return {
    module: appModule({
      imports: [
        AgentSecurityModule.forRoot({
          jwt: { secret: SECRET },
          redis,
          tiers: TIERS,
          // A path: the module writes it through its BatchedDestination, as it does for any user who names a file.
          logging: { level: 'info', destination: LOG_FILE, ...logging },
          cors: { origins: [ORIGIN] },
        }),
      ],
      controllers: [meController('principal')],
    }),
  };
}

// ---------------------------------------------------------------------------------------------
/** @nestjs/throttler's stock ThrottlerGuard over the given storage (its own when undefined): rows 2 to 5. */
function stockThrottler(storage, Me = meController('req'), limit) {
  return {
    module: appModule({
      imports: [throttlerModule(storage, limit)],
      controllers: [Me],
      providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
    }),
  };
}

/**
 * Our throttling alone: TierThrottlerGuard over `store`, with the providers the module gives it. The caller
 * is looked up from the token pool in a Map filled at start-up (principalLookup, no JWT work), so the
 * row measures the guard and the store, not token checks. `filled` pre-fills every caller's window first.
 */
async function ourThrottling(store, { filled = false, setClock } = {}) {
  const limit = filled ? FILLED_LIMIT : HUGE_LIMIT;
  const tiers = Object.fromEntries(Object.keys(TIERS).map((name) => [name, { limit, windowMs: WINDOW_MS }]));
  const config = ourConfig({ tiers });
  if (filled) await fillCallerWindows(store, userKeyPrefix(config), limit, setClock);
  return {
    module: appModule({
      imports: [ThrottlerModule.forRoot({ throttlers: [{ name: 'default', limit, ttl: WINDOW_MS }], storage: store })],
      controllers: [meController('req')],
      providers: [
        { provide: ours('AGENT_SECURITY_CONFIG'), useValue: config },
        { provide: ours('AGENT_SECURITY_STORE'), useValue: store },
        // GET /me has no @TokenBudget(): the guard never admits here, so its budget parts are left empty.
        { provide: ours('AGENT_SECURITY_ADMISSION_STORE'), useValue: {} },
        { provide: ours('UsageService'), useValue: {} },
        { provide: ours('UsageSessions'), useValue: {} },
        { provide: APP_GUARD, useClass: ours('TierThrottlerGuard') },
      ],
    }),
    before: principalLookup().before,
  };
}

/**
 * The storage alone (x16 to x18): the handler itself spends one request of the caller's window in `store`
 * and answers, with no guard and no header. The caller comes from the same getter as in rows 6e to 6g and
 * the key is the one TierThrottlerGuard forms, so the row differs from the bare app by the storage call only
 * (and the one await it needs). `filled` pre-fills every caller's window first.
 */
async function storageInHandler(store, { filled = false, setClock } = {}) {
  const limit = filled ? FILLED_LIMIT : HUGE_LIMIT;
  const prefix = userKeyPrefix(ourConfig());
  if (filled) await fillCallerWindows(store, prefix, limit, setClock);
  const ANONYMOUS = { userId: 'anonymous', tier: 'pro' };
  const Me = meController('req', async (req) => {
    // The sanity check's request without a token: a caller like any other.
    const caller = req.principal ?? ANONYMOUS;
    await store.consume([{ key: `${prefix}${caller.userId}}`, limit, windowMs: WINDOW_MS }]);
    return { userId: caller.userId, tier: caller.tier };
  });
  return { module: appModule({ controllers: [Me] }), before: principalLookup().before };
}

/** A SlidingWindowStore that does no work: every call allowed, one shared answer, already resolved. */
function noopStore() {
  const answer = Promise.resolve({ allowed: true, blockedBy: -1, windows: [{ totalHits: 1, resetMs: WINDOW_MS }] });
  return { consume: () => answer };
}

/** The start of the key TierThrottlerGuard forms for a verified caller (`...:{user:<id>}`). */
const userKeyPrefix = (config) => `${config.throttling.keyPrefix}:{user:`;

/** Pre-fills, in one of our stores, the window of every caller of the token pool under TierThrottlerGuard's key. */
function fillCallerWindows(store, prefix, limit, setClock) {
  const keys = readTokens(process.env.BENCH_TOKENS_FILE).map((_, i) => `${prefix}user-${i}}`);
  return fillWindows(keys, (key) => store.consume([{ key, limit, windowMs: WINDOW_MS }]), setClock);
}

/**
 * The caller of each pool token, the stand-in for AuthGuard in rows 6e to 6g: `request.principal` is a getter
 * on Express's request prototype that looks the token up in a Map. A middleware doing the same would add a
 * router layer to every request, about 4 % of the bare app (x14), which the module itself does not have.
 */
function principalLookup() {
  const tokens = readTokens(process.env.BENCH_TOKENS_FILE);
  const principals = new Map(tokens.map((token, i) => [`Bearer ${token}`, { userId: `user-${i}`, tier: 'pro' }]));
  return {
    before(app) {
      Object.defineProperty(app.getHttpAdapter().getInstance().request, 'principal', {
        configurable: true,
        get() {
          return principals.get(this.headers.authorization);
        },
      });
    },
    middleware(app) {
      app.use((req, _res, next) => {
        req.principal = principals.get(req.headers.authorization);
        next();
      });
    },
  };
}

/** Each variant: the root module (and anything to do on the app before it listens). */
const variants = {
  bare() {
    return { module: appModule({ controllers: [meController('req')] }) };
  },

  'nest-throttler-memory'() {
    // No storage: @nestjs/throttler's own in-memory one.
    return stockThrottler(undefined);
  },

  async 'nest-throttler-memory-filled'() {
    const Me = meController('req');
    const storage = new ThrottlerStorageService();
    await prefill(Me, storage);
    return stockThrottler(storage, Me, FILLED_LIMIT);
  },

  'nest-throttler-peer-redis'() {
    const storage = new ThrottlerStorageRedisService(new Redis(REDIS_URL));
    return stockThrottler(storage);
  },

  'nest-throttler-our-redis'() {
    const storage = new (ours('RedisThrottlerStorage'))(REDIS_URL);
    return stockThrottler(storage);
  },

  'nest-throttler-our-memory'() {
    const storage = new (ours('MemoryThrottlerStorage'))();
    return stockThrottler(storage);
  },

  async 'nest-throttler-our-memory-filled'() {
    const Me = meController('req');
    const { storage, setClock } = ourMemoryForFill();
    await prefill(Me, storage, setClock);
    return stockThrottler(storage, Me, FILLED_LIMIT);
  },

  'ours-full'() {
    return oursFull();
  },

  // Rows 8 and 8a: the same two apps as rows 1 and 6, on Nest's Fastify adapter.
  'bare-fastify'() {
    return { ...variants.bare(), adapter: 'fastify' };
  },

  'ours-full-fastify'() {
    return { ...oursFull(), adapter: 'fastify' };
  },

  'ours-throttle-redis'() {
    return ourThrottling(new (ours('RedisThrottlerStorage'))(REDIS_URL));
  },

  /** Row 6e with the script sent through ioredis's auto-pipelining (its defineCommand): one call per request, where the storage sends one per event-loop turn. */
  'x-ours-throttle-redis-autopipelined'() {
    const storage = new (ours('RedisThrottlerStorage'))(new Redis(REDIS_URL, { enableAutoPipelining: true }));
    storage.client.defineCommand('agentSecuritySlidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
    let sequence = 0;
    storage.consume = async (rules) => {
      const n = rules.length;
      const args = [
        ...rules.map((rule) => rule.key),
        n,
        `bench:${++sequence}`,
        ...rules.flatMap((rule) => [rule.limit, rule.windowMs]),
      ];
      const reply = await storage.client.agentSecuritySlidingWindowBuffer(n, ...args);
      const blockedBy = reply.readDoubleLE(0);
      const windows = rules.map((_, i) => ({
        totalHits: reply.readDoubleLE(8 + 16 * i),
        resetMs: Math.ceil(reply.readDoubleLE(16 + 16 * i) / 1000),
      }));
      return { allowed: blockedBy === -1, blockedBy, windows };
    };
    return ourThrottling(storage);
  },

  'ours-throttle-memory'() {
    return ourThrottling(new (ours('MemoryThrottlerStorage'))());
  },

  'ours-throttle-memory-filled'() {
    const { storage, setClock } = ourMemoryForFill();
    return ourThrottling(storage, { filled: true, setClock });
  },

  /** The module with everything optional off: JWT, throttling in process memory, request id; no logging, no CORS. */
  'ours-module-min'() {
    const AgentSecurityModule = ours('AgentSecurityModule');
    return {
      module: appModule({
        imports: [AgentSecurityModule.forRoot({ jwt: { secret: SECRET }, tiers: TIERS, logging: false, cors: false })],
        controllers: [meController('principal')],
      }),
    };
  },

  'ours-jwt'() {
    const config = ourConfig();
    const TokenVerifier = ours('TokenVerifier');
    const verifier = new TokenVerifier(config, new JwtService({ secret: SECRET }));
    return {
      module: appModule({
        controllers: [meController('principal')],
        providers: [
          { provide: ours('AGENT_SECURITY_CONFIG'), useValue: config },
          { provide: TokenVerifier, useValue: verifier },
          { provide: APP_GUARD, useClass: ours('AuthGuard') },
        ],
      }),
    };
  },

  /** Row 6b in issuer mode: RS256 tokens, the key found by OpenID Connect discovery from BENCH_ISSUER. */
  'ours-jwt-jwks'() {
    const config = ourConfig({ jwt: { issuer: process.env.BENCH_ISSUER, audience: JWKS_AUDIENCE } });
    const TokenVerifier = ours('TokenVerifier');
    const verifier = new TokenVerifier(config, new JwtService({}));
    return {
      module: appModule({
        controllers: [meController('principal')],
        providers: [
          { provide: ours('AGENT_SECURITY_CONFIG'), useValue: config },
          { provide: TokenVerifier, useValue: verifier },
          { provide: APP_GUARD, useClass: ours('AuthGuard') },
        ],
      }),
    };
  },

  /**
   * Logging (and the request id) as the module wires it: the FrontDoor's `handle` mounted on the
   * app before Nest's own middleware and body parser, the root logger from createRootLogger(), nestjs-pino
   * configured by loggerParams(root). CORS off (config.cors false).
   */
  /** `destination`: omitted, the log file's path (the module's BatchedDestination); else pino.destination options for it. */
  'ours-logging'(level = 'info', destination, { logger = true } = {}) {
    const stream = destination === undefined ? LOG_FILE : pino.destination({ dest: LOG_FILE, ...destination });
    const config = ourConfig({ logging: logger ? { level, destination: stream } : false });
    const FrontDoor = ours('FrontDoor');
    const root = logger ? ours('createRootLogger')(config) : undefined;
    return {
      module: appModule({
        imports: logger ? [LoggerModule.forRoot(ours('loggerParams')(root))] : [],
        controllers: [meController('req')],
        providers: [
          { provide: ours('AGENT_SECURITY_CONFIG'), useValue: config },
          { provide: ours('AGENT_SECURITY_LOGGER'), useValue: root },
          ours('CorsMiddleware'),
          FrontDoor,
        ],
      }),
      before(app) {
        app.use(app.get(FrontDoor).handle);
      },
    };
  },

  /** CORS alone: the module's CorsMiddleware mounted on the app before Nest's own middleware. */
  'ours-cors'() {
    const config = ourConfig({ cors: { origins: [ORIGIN] } });
    const CorsMiddleware = ours('CorsMiddleware');
    return {
      module: appModule({
        controllers: [meController('req')],
        providers: [{ provide: ours('AGENT_SECURITY_CONFIG'), useValue: config }, CorsMiddleware],
      }),
      before(app) {
        const cors = app.get(CorsMiddleware);
        app.use((req, res, next) => cors.use(req, res, next));
      },
    };
  },

  // Experiments, not in the default run (BENCH_VARIANTS=...): what a change in the library would buy.
  'x-peer-redis-autopipelining'() {
    const storage = new ThrottlerStorageRedisService(new Redis(REDIS_URL, { enableAutoPipelining: true }));
    return stockThrottler(storage);
  },

  /** Redaction switched off through the pino options (the completion line carries no header anyway). */
  'x-ours-full-no-redact'() {
    return oursFull({ logging: { pino: { redact: undefined } } });
  },

  /** The module's default redact paths minus the wildcard ones (`*.token`, ...), through the pino options. */
  'x-ours-full-redact-no-wildcards'() {
    const paths = ours('DEFAULT_REDACT_PATHS').filter((path) => !path.includes('*'));
    return oursFull({ logging: { pino: { redact: { paths, censor: '[REDACTED]' } } } });
  },

  /** Row 6c with the file written in 4 KB batches (SonicBoom minLength): one write per ~20 lines, not per line. */
  'x-ours-logging-buffered'() {
    return variants['ours-logging']('info', { sync: false, minLength: 4096 });
  },

  /** Row 6c on pino's asynchronous file destination: what the module's BatchedDestination is measured against. */
  'x-ours-logging-pino-async'() {
    return variants['ours-logging']('info', { sync: false });
  },

  /** Row 6c at level warn: every part of the logging but the completion line (built and written) itself. */
  'x-ours-logging-no-lines'() {
    return variants['ours-logging']('warn');
  },

  /** The front handler with no logger (as with logging: false): request id and X-Response-Time only. */
  'x-ours-request-id-only'() {
    return variants['ours-logging'](undefined, undefined, { logger: false });
  },

  /** The bare app plus one global interceptor that does nothing: what any APP_INTERCEPTOR costs every route. */
  'x-bare-noop-interceptor'() {
    const noop = { intercept: (_context, next) => next.handle() };
    return {
      module: appModule({
        controllers: [meController('req')],
        providers: [{ provide: APP_INTERCEPTOR, useValue: noop }],
      }),
    };
  },

  /** The bare app plus one global guard whose canActivate is async and always true (as TokenBudgetGuard on an unbudgeted route). */
  'x-bare-noop-async-guard'() {
    const guard = { canActivate: async () => true };
    return {
      module: appModule({ controllers: [meController('req')], providers: [{ provide: APP_GUARD, useValue: guard }] }),
    };
  },

  /** The same guard answering synchronously: Nest's guard consumer then awaits nothing. */
  'x-bare-noop-sync-guard'() {
    const guard = { canActivate: () => true };
    return {
      module: appModule({ controllers: [meController('req')], providers: [{ provide: APP_GUARD, useValue: guard }] }),
    };
  },

  /** x8's guard setting the five rate-limit headers our guard sets (same names, same kind of values). */
  'x-bare-rate-limit-headers-guard'() {
    const guard = {
      canActivate: (context) => {
        const response = context.switchToHttp().getResponse();
        response.setHeader('X-RateLimit-Limit', HUGE_LIMIT);
        response.setHeader('X-RateLimit-Remaining', HUGE_LIMIT - 1);
        response.setHeader('X-RateLimit-Reset', 60);
        response.setHeader('RateLimit-Policy', `"pro";q=${HUGE_LIMIT};w=60`);
        response.setHeader('RateLimit', `"pro";r=${HUGE_LIMIT - 1};t=60`);
        return true;
      },
    };
    return {
      module: appModule({ controllers: [meController('req')], providers: [{ provide: APP_GUARD, useValue: guard }] }),
    };
  },

  /** The stock guard over a storage that answers at once with one shared record: what rows 2 to 5 cost without any storage work. */
  'x-nest-throttler-noop-storage'() {
    const record = { totalHits: 1, timeToExpire: WINDOW_MS / 1000, isBlocked: false, timeToBlockExpire: 0 };
    const resolved = Promise.resolve(record);
    return stockThrottler({ increment: () => resolved });
  },

  'x-storage-alone-memory'() {
    return storageInHandler(new (ours('MemoryThrottlerStorage'))());
  },

  'x-storage-alone-memory-filled'() {
    const { storage, setClock } = ourMemoryForFill();
    return storageInHandler(storage, { filled: true, setClock });
  },

  'x-storage-alone-redis'() {
    return storageInHandler(new (ours('RedisThrottlerStorage'))(REDIS_URL));
  },

  // x20 and x21: the ceilings of x16-x18 and of 6e-6g, over a store that answers at once with one shared result.
  'x-storage-alone-noop'() {
    return storageInHandler(noopStore());
  },

  'x-ours-throttle-noop'() {
    return ourThrottling(noopStore());
  },

  /** The bare app plus the caller lookup rows 6e to 6g put in front of TierThrottlerGuard (there AuthGuard's job). */
  'x-bare-principal-middleware'() {
    return { module: appModule({ controllers: [meController('req')] }), before: principalLookup().middleware };
  },

  /**
   * Row 6i: row 6 on a budgeted chat route: the module's one admission (its reservation of 100 tokens inside it), then
   * the record that replaces the reservation when the response ends.
   */
  'ours-chat'() {
    const AgentSecurityModule = ours('AgentSecurityModule');
    const tiers = Object.fromEntries(
      Object.entries(TIERS).map(([name, tier]) => [
        name,
        { ...tier, tokens: { limit: CHAT_TOKEN_LIMIT, windowMs: WINDOW_MS } },
      ]),
    );
    const chat = (req) => ({ userId: req.principal.userId, tier: req.principal.tier, usage: CHAT_USAGE });
    return {
      module: appModule({
        imports: [
          AgentSecurityModule.forRoot({
            jwt: { secret: SECRET },
            redis: REDIS_URL,
            tiers,
            logging: { level: 'info', destination: LOG_FILE },
            cors: { origins: [ORIGIN] },
          }),
        ],
        controllers: [chatController(chat, ours('TokenBudget')({ reserve: 100 }))],
      }),
    };
  },

  /**
   * Row 7e: row 7 on the same chat route, the token budget by hand as a guide would add it: the caller's counter read
   * before the model runs (429 when spent), its tokens added after the answer (INCRBY and PEXPIRE, not awaited).
   */
  'hand-chat'() {
    const storage = new ThrottlerStorageRedisService(new Redis(REDIS_URL));
    const redis = new Redis(REDIS_URL);
    const spent = CHAT_USAGE.inputTokens + CHAT_USAGE.outputTokens;
    const chat = async (req) => {
      const key = `tokens:{${req.user.sub}}`;
      if (Number((await redis.get(key)) ?? 0) >= CHAT_TOKEN_LIMIT)
        throw new HttpException('Token budget exceeded', 429);
      const answer = { userId: req.user.sub, tier: req.user.tier, usage: CHAT_USAGE };
      redis
        .multi()
        .incrby(key, spent)
        .pexpire(key, WINDOW_MS)
        .exec()
        .catch(() => undefined);
      return answer;
    };
    return {
      module: appModule({
        imports: [handJwtModule(), handPino(), throttlerModule(storage, HUGE_LIMIT, (req) => req.user?.sub ?? req.ip)],
        controllers: [chatController(chat)],
        providers: [handJwtGuard(), { provide: APP_GUARD, useClass: ThrottlerGuard }],
      }),
      before: handCors,
    };
  },

  'hand-full'() {
    const storage = new ThrottlerStorageRedisService(new Redis(REDIS_URL));
    return {
      module: appModule({
        imports: [
          handJwtModule(),
          handPino(),
          // Keyed per verified user: the JWT guard (registered first) has set request.user.
          throttlerModule(storage, HUGE_LIMIT, (req) => req.user?.sub ?? req.ip),
        ],
        controllers: [meController('req')],
        providers: [handJwtGuard(), { provide: APP_GUARD, useClass: ThrottlerGuard }],
      }),
      before: handCors,
    };
  },

  'hand-jwt-jwks'() {
    return {
      module: appModule({
        imports: [PassportModule],
        controllers: [meController('req')],
        providers: [handJwksStrategy(), { provide: APP_GUARD, useClass: PassportAuthGuard('jwt') }],
      }),
    };
  },

  'hand-jwt'() {
    return {
      module: appModule({
        imports: [handJwtModule()],
        controllers: [meController('req')],
        providers: [handJwtGuard()],
      }),
    };
  },

  'hand-pino'() {
    return { module: appModule({ imports: [handPino()], controllers: [meController('req')] }) };
  },

  'hand-cors'() {
    return { module: appModule({ controllers: [meController('req')] }), before: handCors };
  },
};

async function main() {
  const build = variants[variantName];
  if (!build)
    throw new Error(`unknown variant ${JSON.stringify(variantName)}; known: ${Object.keys(variants).join(', ')}`);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`bad port ${JSON.stringify(portText)}`);
  const { module, before, adapter } = await build();
  const options = { logger: false, abortOnError: false };
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(module, new (await import('@nestjs/platform-fastify')).FastifyAdapter(), options)
      : await NestFactory.create(module, options);
  before?.(app);
  await app.listen(port, '127.0.0.1');
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    const timer = setTimeout(() => process.exit(0), 2000);
    try {
      await app.close();
    } catch {
      // exiting anyway
    }
    clearTimeout(timer);
    // process.exit() still writes a --cpu-prof profile.
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`READY ${port}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
