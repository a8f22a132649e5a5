import {
  Global,
  Inject,
  Logger,
  type MiddlewareConsumer,
  Module,
  type NestModule,
  type OnModuleInit,
  RequestMethod,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { JwtService } from '@nestjs/jwt';
import { resolveAgentSecurityConfig, type AgentSecurityConfig } from './agent-security.config.js';
import { AGENT_SECURITY_CONFIG, AGENT_SECURITY_JWT } from './agent-security.constants.js';
import { AGENT_SECURITY_OPTIONS, ConfigurableModuleClass } from './agent-security.module-definition.js';
import type { AgentSecurityOptions } from './agent-security-options.interface.js';
import { AuthGuard } from './auth/auth.guard.js';
import { ProtectedResourceController } from './auth/protected-resource.controller.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { CorsMiddleware } from './cors/cors.middleware.js';
import { SERVED_PLATFORMS, seamFor } from './http/adapter-seams.js';
import { FrontDoor } from './http/front-door.js';
import { HttpServerHooks } from './http/http-server.hooks.js';
import { exceptionFilter } from './errors/http-exception.filter.js';
import { unbudgetedRoutes } from './options/unbudgeted-routes.js';
import { createRootLogger, loggerParams, logDestination } from './logging/logger-options.js';
import { AGENT_SECURITY_LOG_DESTINATION, AGENT_SECURITY_LOGGER } from './logging/logging.constants.js';
import { RedisConnection } from './throttling/redis-connection.js';
import { RateLimitStoreHealthIndicator } from './throttling/rate-limit-store.health.js';
import { TierThrottlerGuard } from './throttling/tier-throttler.guard.js';
import { throttlingProviders } from './throttling/throttling.providers.js';
import { AGENT_SECURITY_STORE } from './throttling/throttling.constants.js';
import { AdmissionGuard } from './admission/admission.guard.js';
import { admissionProviders } from './admission/admission.providers.js';
import { UsageSessions } from './usage/usage-session.js';
import { AGENT_SECURITY_USAGE_STORE } from './usage/usage.constants.js';
import { usageProviders } from './usage/usage.providers.js';
import { UsageService } from './usage/usage.service.js';

/**
 * Import once, in the root module: `AgentSecurityModule.forRoot({ jwt, tiers, redis, cors })`.
 * It registers its guards globally; nothing else to wire. Global so that its services
 * can be injected anywhere, as nestjs-pino's LoggerModule is.
 */
@Global()
@Module({
  imports: [
    // Binds the module's own root logger (useExisting): nestjs-pino's Logger and PinoLogger write through it.
    LoggerModule.forRootAsync({ inject: [AGENT_SECURITY_LOGGER], useFactory: loggerParams }),
  ],
  // Answers 404 unless jwt.resource is set: options may come from forRootAsync, after controllers are chosen.
  controllers: [ProtectedResourceController],
  providers: [
    CorsMiddleware,
    FrontDoor,
    HttpServerHooks,
    // A provider of its own so that Nest's shutdown hooks reach it: a BatchedDestination writes what is pending then.
    { provide: AGENT_SECURITY_LOG_DESTINATION, inject: [AGENT_SECURITY_CONFIG], useFactory: logDestination },
    {
      provide: AGENT_SECURITY_LOGGER,
      inject: [AGENT_SECURITY_CONFIG, AGENT_SECURITY_LOG_DESTINATION],
      useFactory: createRootLogger,
    },
    {
      provide: AGENT_SECURITY_CONFIG,
      inject: [AGENT_SECURITY_OPTIONS],
      useFactory: (options: AgentSecurityOptions) => resolveAgentSecurityConfig(options),
    },
    {
      provide: AGENT_SECURITY_JWT,
      inject: [AGENT_SECURITY_CONFIG],
      // In issuer mode the keys come from the provider's JWKS (TokenVerifier's key source), none from here.
      useFactory: ({ jwt }: AgentSecurityConfig) =>
        new JwtService(
          jwt.key === undefined
            ? {}
            : jwt.algorithms[0].startsWith('HS')
              ? { secret: jwt.key }
              : { publicKey: jwt.key },
        ),
    },
    TokenVerifier,
    ...throttlingProviders,
    RateLimitStoreHealthIndicator,
    ...usageProviders,
    ...admissionProviders,
    UsageSessions,
    AuthGuard,
    TierThrottlerGuard,
    // The one global guard: it states the order of the checks (authenticate, then limits and admission).
    { provide: APP_GUARD, useClass: AdmissionGuard },
    { provide: APP_FILTER, inject: [AGENT_SECURITY_CONFIG], useFactory: exceptionFilter },
  ],
  exports: [
    AGENT_SECURITY_CONFIG,
    AGENT_SECURITY_LOGGER,
    AGENT_SECURITY_JWT,
    AGENT_SECURITY_STORE,
    TokenVerifier,
    RedisConnection,
    RateLimitStoreHealthIndicator,
    UsageService,
    AGENT_SECURITY_USAGE_STORE,
  ],
})
export class AgentSecurityModule extends ConfigurableModuleClass implements NestModule, OnModuleInit {
  private mountedEarly = false;

  constructor(
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(FrontDoor) private readonly frontDoor: FrontDoor,
    @Inject(AGENT_SECURITY_CONFIG) private readonly config: AgentSecurityConfig,
  ) {
    super();
    // The adapter is set before init() registers the body parser (at once with NestFactory.create, at
    // createNestApplication with a testing module): mounted then, the front door's steps reach even a malformed-body 400.
    adapterHost.init$.subscribe(() => {
      const adapter = adapterHost.httpAdapter;
      const seam = seamFor(adapter?.getType());
      if (seam !== undefined && !this.mountedEarly) {
        seam.mount(adapter, frontDoor.handle);
        this.mountedEarly = true;
      }
    });
  }

  configure(consumer: MiddlewareConsumer): void {
    // Every path, 404s and preflights included, before any guard. A no-op where mounted early.
    if (!this.mountedEarly)
      consumer.apply(this.frontDoor.handle).forRoutes({ path: '{/*splat}', method: RequestMethod.ALL });
  }

  onModuleInit(): void {
    // The front door needs a seam for the platform (http/adapter-seams.ts); without one no request would get an id,
    // CORS or a log line, so the app does not start instead.
    const adapter = this.adapterHost.httpAdapter;
    if (adapter !== undefined && seamFor(adapter.getType()) === undefined) {
      throw new Error(
        `AgentSecurityModule runs on ${SERVED_PLATFORMS}; this app's HTTP adapter is "${adapter.getType()}" (${adapter.constructor.name}).`,
      );
    }
    let imports = 0;
    for (const module of this.modules.values()) {
      if (module.metatype === AgentSecurityModule) imports++;
    }
    if (imports > 1) {
      throw new Error(
        `AgentSecurityModule.forRoot() is imported ${imports} times; every request would pass its guards ${imports} times. ` +
          'Import it once, in the root module: its guards and services are global.',
      );
    }
    const logger = new Logger('AgentSecurity');
    for (const route of unbudgetedRoutes(this.modules, this.config)) {
      logger.warn(
        `${route} has @TokenBudget() or @AgentStream(), but no tier has a token budget (tiers.<name>.tokens) or a cost budget (tiers.<name>.cost): it checks and records nothing`,
      );
    }
  }
}
