import type { ExecutionContext } from '@nestjs/common';

/**
 * What a guard reads from a route's decorators, read once per handler instead of on every request:
 * metadata does not change after start-up. A method inherited by two controllers is one function,
 * so each entry remembers its controller and is read again for the other.
 */
export class RouteMetadataCache<T> {
  private readonly entries = new WeakMap<Function, { readonly controller: Function; readonly value: T }>();

  constructor(private readonly read: (handler: Function, controller: Function) => T) {}

  get(context: ExecutionContext): T {
    const handler = context.getHandler();
    const controller = context.getClass();
    const cached = this.entries.get(handler);
    if (cached !== undefined && cached.controller === controller) return cached.value;
    const value = this.read(handler, controller);
    this.entries.set(handler, { controller, value });
    return value;
  }
}
