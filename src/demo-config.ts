import { type DynamicModule, Global, Module } from '@nestjs/common';
import type {
  AgentSecurityOptions,
  EnforcementMode,
  ModelPrice,
  StoreErrorPolicy,
  TierLimits,
} from '@agent-security/core';
import { StandInModel } from './agent/stand-in-model.js';

export const DEMO_CONFIG = Symbol('DEMO_CONFIG');

/** A development secret, so the demo starts without setup. Never use it anywhere that matters. */
export const DEV_JWT_SECRET = 'agent-security-demo-secret-do-not-use-in-production';

/** The HTTP platforms the demo runs on (HTTP_ADAPTER). */
export const HTTP_ADAPTERS = ['express', 'fastify'] as const;
export type HttpAdapterName = (typeof HTTP_ADAPTERS)[number];

export interface DemoConfig {
  port: number;
  /** The Nest HTTP adapter: Express unless HTTP_ADAPTER=fastify. */
  httpAdapter: HttpAdapterName;
  /** Proxies in front whose X-Forwarded-For is believed (TRUST_PROXY, default 0): the anonymous tier counts `request.ip`. */
  trustProxy: number;
  /** True when neither JWT_SECRET nor JWT_ISSUER was set and the development secret is in use. */
  usingDevSecret: boolean;
  /** Pause between streamed tokens of the stand-in model. */
  streamTokenDelayMs: number;
  security: AgentSecurityOptions;
}

/** The demo's tiers: the library's request limits plus LLM token budgets and stream caps. */
export const DEMO_TIERS: Record<string, TierLimits> = {
  free: { limit: 20, windowMs: 3_600_000, tokens: { limit: 50_000, windowMs: 86_400_000 }, maxConcurrentStreams: 1 },
  pro: { limit: 200, windowMs: 3_600_000, tokens: { limit: 1_000_000, windowMs: 86_400_000 }, maxConcurrentStreams: 5 },
  enterprise: {
    limit: 2000,
    windowMs: 3_600_000,
    tokens: { limit: 20_000_000, windowMs: 86_400_000 },
    maxConcurrentStreams: 50,
  },
};

/** The stand-in model's price, as a real model's would be set: $1 per million input tokens, $4 per million output. */
export const DEMO_PRICING: Record<string, ModelPrice> = {
  [StandInModel.id]: { inputPerMillionUsd: 1, outputPerMillionUsd: 4 },
};

const MODES: readonly EnforcementMode[] = ['enforce', 'report'];

const STORE_ERROR_POLICIES: readonly StoreErrorPolicy[] = ['fallback', 'allow', 'deny'];

/**
 * The demo's configuration from the environment: PORT, HTTP_ADAPTER, TRUST_PROXY, JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE,
 * JWT_JWKS_URI, JWT_ALLOW_QUERY_TOKEN, REDIS_URL, AGENT_SECURITY_TIERS (request limits, `tokens`, `cost` in dollars,
 * `maxConcurrentStreams`), AGENT_SECURITY_ON_STORE_ERROR, AGENT_SECURITY_MODE (`report`: refuse nothing, log what would
 * be), CORS_ORIGINS, STREAM_TOKEN_DELAY_MS.
 */
export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const port = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  }
  const httpAdapter = (env.HTTP_ADAPTER || 'express') as HttpAdapterName;
  if (!HTTP_ADAPTERS.includes(httpAdapter)) {
    throw new Error(`HTTP_ADAPTER must be one of ${HTTP_ADAPTERS.join(', ')}, got ${JSON.stringify(env.HTTP_ADAPTER)}`);
  }
  const trustProxy = env.TRUST_PROXY ? Number(env.TRUST_PROXY) : 0;
  if (!Number.isInteger(trustProxy) || trustProxy < 0) {
    throw new Error(
      `TRUST_PROXY must be the number of proxies in front (0 for none), got ${JSON.stringify(env.TRUST_PROXY)}`,
    );
  }
  let tiers: Record<string, TierLimits> = DEMO_TIERS;
  if (env.AGENT_SECURITY_TIERS) {
    try {
      tiers = { ...DEMO_TIERS, ...(JSON.parse(env.AGENT_SECURITY_TIERS) as Record<string, TierLimits>) };
    } catch {
      throw new Error(
        'AGENT_SECURITY_TIERS must be JSON, e.g. {"free":{"limit":3,"windowMs":10000,"cost":{"limitUsd":0.01,"windowMs":86400000}}}',
      );
    }
  }
  // What the limits do while Redis is down, so that each policy can be tried by hand; unset is the module's default.
  const onStoreError = env.AGENT_SECURITY_ON_STORE_ERROR || undefined;
  if (onStoreError !== undefined && !STORE_ERROR_POLICIES.includes(onStoreError as StoreErrorPolicy)) {
    throw new Error(
      `AGENT_SECURITY_ON_STORE_ERROR must be one of ${STORE_ERROR_POLICIES.join(', ')}, got ${JSON.stringify(onStoreError)}`,
    );
  }
  const mode = env.AGENT_SECURITY_MODE || undefined;
  if (mode !== undefined && !MODES.includes(mode as EnforcementMode)) {
    throw new Error(`AGENT_SECURITY_MODE must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`);
  }
  const origins = (env.CORS_ORIGINS ?? 'http://localhost:3000,http://localhost:5173')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  const streamTokenDelayMs = env.STREAM_TOKEN_DELAY_MS ? Number(env.STREAM_TOKEN_DELAY_MS) : 50;
  const issuerMode = Boolean(env.JWT_ISSUER);
  return {
    port,
    httpAdapter,
    trustProxy,
    usingDevSecret: !issuerMode && !env.JWT_SECRET,
    streamTokenDelayMs,
    security: {
      jwt: { ...demoJwt(env), allowQueryToken: env.JWT_ALLOW_QUERY_TOKEN === '1' },
      tiers,
      pricing: DEMO_PRICING,
      ...(mode === undefined ? {} : { mode: mode as EnforcementMode }),
      redis: env.REDIS_URL || undefined,
      ...(onStoreError === undefined ? {} : { throttling: { onStoreError: onStoreError as StoreErrorPolicy } }),
      cors: { origins, credentials: true },
    },
  };
}

/**
 * HS256 with JWT_SECRET (or the development secret) by default; with JWT_ISSUER, tokens of that identity provider,
 * its keys found by OpenID Connect discovery or at JWT_JWKS_URI, for the audience JWT_AUDIENCE.
 */
function demoJwt(env: NodeJS.ProcessEnv): AgentSecurityOptions['jwt'] {
  if (!env.JWT_ISSUER) return { secret: env.JWT_SECRET || DEV_JWT_SECRET };
  if (env.JWT_SECRET)
    throw new Error('Set JWT_SECRET or JWT_ISSUER, not both: an identity provider signs its tokens with its own keys');
  return {
    issuer: env.JWT_ISSUER,
    ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
    ...(env.JWT_JWKS_URI ? { jwksUri: env.JWT_JWKS_URI } : {}),
  } as AgentSecurityOptions['jwt'];
}

@Global()
@Module({})
export class DemoConfigModule {
  static forRoot(config: DemoConfig): DynamicModule {
    return {
      module: DemoConfigModule,
      providers: [{ provide: DEMO_CONFIG, useValue: config }],
      exports: [DEMO_CONFIG],
    };
  }
}
