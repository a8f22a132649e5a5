import type { Type } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import type { AgentSecurityConfig } from '../agent-security.config.js';
import { AGENT_STREAM_METADATA, TOKEN_BUDGET_METADATA } from '../usage/usage.constants.js';

/**
 * The `@TokenBudget()` and `@AgentStream()` routes, as `Controller.method`, when no tier has a token budget: there
 * they check nothing and record nothing, and `UsageService.budget()` answers undefined. Read once, at start-up,
 * from the controllers' metadata: no request pays for it.
 */
export function unbudgetedRoutes(modules: ModulesContainer, config: AgentSecurityConfig): string[] {
  for (const tier of config.tiers.values()) if (tier.tokens !== undefined || tier.cost !== undefined) return [];
  const routes: string[] = [];
  const seen = new Set<Type>();
  for (const module of modules.values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | undefined;
      if (typeof controller !== 'function' || seen.has(controller)) continue;
      seen.add(controller);
      const onClass = isBudgeted(controller);
      for (
        let proto = controller.prototype;
        proto && proto !== Object.prototype;
        proto = Object.getPrototypeOf(proto)
      ) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          if (name === 'constructor') continue;
          const method = Object.getOwnPropertyDescriptor(proto, name)?.value;
          if (typeof method !== 'function') continue;
          const route = `${controller.name}.${name}`;
          if ((onClass || isBudgeted(method)) && !routes.includes(route)) routes.push(route);
        }
      }
    }
  }
  return routes;
}

function isBudgeted(target: object): boolean {
  return (
    Reflect.getMetadata(TOKEN_BUDGET_METADATA, target) !== undefined ||
    Reflect.getMetadata(AGENT_STREAM_METADATA, target) === true
  );
}
