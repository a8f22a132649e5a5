export const REQUIRED_SCOPES_KEY = 'agent-security:requiredScopes';

// A scope token as RFC 6749 §3.3 defines it: printable ASCII without space, `"` or `\`, so it can be quoted in a header.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The scopes a caller's token must carry, all of them, to call a handler or any handler of a controller. Every
 * `@RequireScopes()` adds up: several on one handler or one controller, and a controller's with its handler's. A
 * verified token without them gets 403 `insufficient_scope` before any rate limit or token budget is counted. No
 * effect on a `@Public()` route.
 */
export function RequireScopes(...scopes: string[]): MethodDecorator & ClassDecorator {
  if (scopes.length === 0) throw new Error('@RequireScopes() needs at least one scope');
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new Error(
        `@RequireScopes(): ${JSON.stringify(scope)} is no scope token (RFC 6749 §3.3: printable ASCII, no space, " or \\)`,
      );
    }
  }
  const given = Object.freeze([...scopes]);
  // Not SetMetadata: it overwrites, so a second decorator on the same target would silently drop the first's scopes.
  const decorator = (target: object, _key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    const holder: object = descriptor === undefined ? target : descriptor.value;
    // Decorators run bottom-up: the ones already applied are written below this one, so they go after it.
    const earlier: readonly string[] = Reflect.getMetadata(REQUIRED_SCOPES_KEY, holder) ?? [];
    Reflect.defineMetadata(REQUIRED_SCOPES_KEY, Object.freeze([...new Set([...given, ...earlier])]), holder);
  };
  return decorator as MethodDecorator & ClassDecorator;
}
