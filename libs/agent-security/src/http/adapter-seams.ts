import type { HttpAdapterSeam } from './adapter-seam.js';
import { expressSeam } from './express-adapter.js';
import { fastifySeam } from './fastify-adapter.js';

const SEAMS: readonly HttpAdapterSeam[] = [expressSeam, fastifySeam];

/** The platforms the module serves, for the start-up error on any other. */
export const SERVED_PLATFORMS = 'Express (@nestjs/platform-express) or Fastify (@nestjs/platform-fastify)';

/** The seam for an adapter's type (`adapter.getType()`), or undefined for a platform the module does not serve. */
export function seamFor(type: string | undefined): HttpAdapterSeam | undefined {
  return SEAMS.find((seam) => seam.type === type);
}
