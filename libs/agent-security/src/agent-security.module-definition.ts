import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AgentSecurityOptions } from './agent-security-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: AGENT_SECURITY_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AgentSecurityOptions>({ moduleName: 'AgentSecurity' })
  .setClassMethodName('forRoot')
  .build();

/** The argument of `AgentSecurityModule.forRootAsync()`: `useFactory` with `inject`, `useClass` or `useExisting`. */
export type AgentSecurityAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
