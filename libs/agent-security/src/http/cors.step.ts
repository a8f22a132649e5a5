import type { CorsMiddleware } from '../cors/cors.middleware.js';
import type { FrontHandler } from './front-door.types.js';

/** CORS headers, and the answer to a preflight (which ends the request here); no step without a CORS policy. */
export function corsStep(cors: CorsMiddleware): FrontHandler | undefined {
  return cors.enabled ? cors.handle : undefined;
}
