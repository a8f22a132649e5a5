import { type DynamicModule, Module } from '@nestjs/common';
import { AgentSecurityModule } from '@agent-security/core';
import { AgentModule } from './agent/agent.module.js';
import type { DemoConfig } from './demo-config.js';
import { HealthController } from './health/health.controller.js';
import { MeController } from './me.controller.js';

export const DEMO_CONFIG = Symbol('DEMO_CONFIG');

@Module({})
export class DemoConfigModule {
  static forRoot(config: DemoConfig): DynamicModule {
    return { module: DemoConfigModule, providers: [{ provide: DEMO_CONFIG, useValue: config }], exports: [DEMO_CONFIG] };
  }
}

/** The demo agent API. `forRootAsync` shows the shape a ConfigService-driven app uses. */
@Module({})
export class AppModule {
  static forRoot(config: DemoConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AgentSecurityModule.forRootAsync({
          imports: [DemoConfigModule.forRoot(config)],
          inject: [DEMO_CONFIG],
          useFactory: (demo: DemoConfig) => demo.security,
        }),
        AgentModule,
      ],
      controllers: [HealthController, MeController],
    };
  }
}
