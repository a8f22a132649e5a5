import { Cluster, Redis } from 'ioredis';

/**
 * An ioredis client, `Redis` or `Cluster`, also one made by another copy of ioredis in node_modules (a version the
 * app pins beside the one the library resolves), which `instanceof` does not recognise: taken for options, it would
 * have been spread into a new connection to localhost.
 */
export function isRedisClient(value: unknown): value is Redis | Cluster {
  if (value instanceof Redis || value instanceof Cluster) return true;
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).sendCommand === 'function' &&
    typeof (value as Redis).isCluster === 'boolean'
  );
}
