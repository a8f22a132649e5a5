import type { AgentSecurityOptions, TierLimits } from '@agent-security/core';

/** A development secret, so the demo starts without setup. Never use it anywhere that matters. */
export const DEV_JWT_SECRET = 'agent-security-demo-secret-do-not-use-in-production';

export interface DemoConfig {
  port: number;
  /** True when JWT_SECRET was unset and the development secret is in use. */
  usingDevSecret: boolean;
  security: AgentSecurityOptions;
}

/** The demo's configuration from the environment: PORT, JWT_SECRET, REDIS_URL, AGENT_SECURITY_TIERS, CORS_ORIGINS. */
export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  const port = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, got ${JSON.stringify(env.PORT)}`);
  }
  let tiers: Record<string, TierLimits> | undefined;
  if (env.AGENT_SECURITY_TIERS) {
    try {
      tiers = JSON.parse(env.AGENT_SECURITY_TIERS) as Record<string, TierLimits>;
    } catch {
      throw new Error('AGENT_SECURITY_TIERS must be JSON, e.g. {"free":{"limit":3,"windowMs":10000}}');
    }
  }
  const origins = (env.CORS_ORIGINS ?? 'http://localhost:3000,http://localhost:5173')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  return {
    port,
    usingDevSecret: !env.JWT_SECRET,
    security: {
      jwt: { secret: env.JWT_SECRET || DEV_JWT_SECRET },
      tiers,
      redis: env.REDIS_URL || undefined,
      cors: { origins, credentials: true },
    },
  };
}
