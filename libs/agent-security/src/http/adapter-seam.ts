import type { AbstractHttpAdapter } from '@nestjs/core';
import type { FrontHandler } from './front-door.types.js';

/**
 * What the module needs of one HTTP platform: mounting the front door ahead of the body parser, with Node's
 * IncomingMessage and ServerResponse, which the door's steps write on. One seam per platform, next to this file.
 */
export interface HttpAdapterSeam {
  readonly type: string;
  mount(adapter: AbstractHttpAdapter, handle: FrontHandler): void;
}
