import type { AbstractHttpAdapter } from '@nestjs/core';
import type { FrontHandler } from './front-door.types.js';
import { withSecurityHook } from './security-hook.js';

/**
 * What the module needs of one HTTP platform: mounting the front door ahead of the body parser, on the objects that
 * platform hands its handlers. The module's steps write on Node's IncomingMessage and ServerResponse, as Express hands
 * them over; another platform (Fastify) gets a seam of its own next to this one.
 */
export interface HttpAdapterSeam {
  readonly type: string;
  mount(adapter: AbstractHttpAdapter, handle: FrontHandler): void;
}

export const expressSeam: HttpAdapterSeam = {
  type: 'express',
  // Nest's security hook (app.useSecurityHeaders()) runs inside the door, so the answers the door ends carry its headers.
  mount: (adapter, handle) => adapter.use(withSecurityHook(adapter, handle)),
};

const SEAMS: readonly HttpAdapterSeam[] = [expressSeam];

/** The seam for an adapter's type (`adapter.getType()`), or undefined for a platform the module does not serve. */
export function seamFor(type: string | undefined): HttpAdapterSeam | undefined {
  return SEAMS.find((seam) => seam.type === type);
}
