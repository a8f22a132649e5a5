import { type DynamicModule, Module } from '@nestjs/common';
import { AgentSecurityModule } from '@agent-security/core';
import { AgentModule } from './agent/agent.module.js';
import { DEMO_CONFIG, DemoConfigModule, type DemoConfig } from './demo-config.js';
import { HealthController } from './health/health.controller.js';
import { MeController } from './me.controller.js';

/** The demo agent API. `forRootAsync` shows the shape a ConfigService-driven app uses. */
@Module({})
export class AppModule {
  static forRoot(config: DemoConfig): DynamicModule {
    // One dynamic-module object imported twice is one module; two forRoot() calls would be two.
    const demoConfig = DemoConfigModule.forRoot(config);
    return {
      module: AppModule,
      imports: [
        AgentSecurityModule.forRootAsync({
          imports: [demoConfig],
          inject: [DEMO_CONFIG],
          useFactory: (demo: DemoConfig) => demo.security,
        }),
        demoConfig,
        AgentModule,
      ],
      controllers: [HealthController, MeController],
    };
  }
}
