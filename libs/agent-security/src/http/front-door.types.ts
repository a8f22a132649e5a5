import type { IncomingMessage, ServerResponse } from 'http';

export type NextFunction = (error?: unknown) => void;
/** A handler at the front of the request, as the HTTP adapter mounts it. */
export type FrontHandler = (request: IncomingMessage, response: ServerResponse, next: NextFunction) => void;
/** A front-door step that only marks the request or the response and always goes on. */
export type FrontStep = (request: IncomingMessage, response: ServerResponse) => void;
