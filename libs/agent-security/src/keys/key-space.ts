import { METHOD_METADATA, PATH_METADATA, VERSION_METADATA } from '@nestjs/common/constants.js';

/**
 * The module's key space, the one place that knows how keys are built. Every key of one caller starts with its
 * `{...}` part, a Redis Cluster hash tag: one slot per caller, so one script can touch all of a caller's keys.
 *
 *   <prefix>:{user:<id>}               a verified caller's request window
 *   <prefix>:{user:<id>}:route:<...>   a route's own @Throttle() window for that caller
 *   <prefix>:{user:<id>}:tokens        the caller's token budget (hash of bucket -> tokens)
 *   <prefix>:{user:<id>}:cost          the caller's cost budget (hash of bucket -> nano-dollars)
 *   <prefix>:{user:<id>}:reserved      tokens held by requests in flight (sorted set of "<tokens>:<id>" -> expiry)
 *   <prefix>:{user:<id>}:streams       the caller's stream leases (sorted set of lease -> expiry)
 *   <prefix>:{ip:<address>}            an anonymous caller's window (an IPv6 address by its /64)
 *   <prefix>:{ip:overflow:<network>}   the memory store's shared window once its anonymous part is full
 *
 * The prefix has no braces (checked at start-up), so the first `{` of a key is its tag.
 */
export class KeySpace {
  private readonly userPrefix: string;
  private readonly ipPrefix: string;

  constructor(prefix: string) {
    this.userPrefix = `${prefix}:{user:`;
    this.ipPrefix = `${prefix}:{ip:`;
  }

  user(userId: string): string {
    return `${this.userPrefix}${userId}}`;
  }

  anonymous(address: string): string {
    return `${this.ipPrefix}${address}}`;
  }

  tokens(userId: string): string {
    return `${this.userPrefix}${userId}}:tokens`;
  }

  cost(userId: string): string {
    return `${this.userPrefix}${userId}}:cost`;
  }

  reservations(userId: string): string {
    return `${this.userPrefix}${userId}}:reserved`;
  }

  streams(userId: string): string {
    return `${this.userPrefix}${userId}}:streams`;
  }
}

/** True for an anonymous caller's key (its tag is `{ip:...}`), as the memory store keeps those apart. */
export function isAnonymousKey(key: string): boolean {
  const brace = key.indexOf('{');
  return brace >= 0 && key.startsWith('ip:', brace + 1);
}

/** An anonymous key with its address replaced by `overflow:<network>`, the shared window of a full memory store. */
export function overflowKeyOf(key: string, network: (address: string) => string): string {
  const start = key.indexOf('{ip:') + 4;
  const end = key.indexOf('}', start);
  const address = key.slice(start, end < 0 ? key.length : end);
  return `${key.slice(0, start)}overflow:${network(address)}${end < 0 ? '' : key.slice(end)}`;
}

/**
 * A route's own window, after the caller's key: its class and method names with its HTTP method, paths and version.
 * The names alone are not unique: a controller factory, a v1 and a v2 module, minified or anonymous classes give two
 * routes the same ones, and they then shared one window.
 */
export function routeKeySuffix(controller: Function, handler: Function): string {
  const list = (value: unknown) => (Array.isArray(value) ? value.join(',') : value === undefined ? '' : String(value));
  const method = list(Reflect.getMetadata(METHOD_METADATA, handler));
  const paths = `${list(Reflect.getMetadata(PATH_METADATA, controller))}/${list(Reflect.getMetadata(PATH_METADATA, handler))}`;
  const version = Reflect.getMetadata(VERSION_METADATA, handler) ?? Reflect.getMetadata(VERSION_METADATA, controller);
  return `:route:${controller.name}.${handler.name}:${method}:${paths}${version === undefined ? '' : `:v${list(version)}`}`;
}
