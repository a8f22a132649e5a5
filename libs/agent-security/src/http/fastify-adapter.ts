import { AsyncLocalStorage } from 'async_hooks';
import type { IncomingMessage, ServerResponse } from 'http';
import type { HttpAdapterSeam } from './adapter-seam.js';

interface FastifyHooks {
  addHook(name: 'onRequest' | 'preHandler', hook: (request: FastifyLike, reply: { raw: ServerResponse }, done: (error?: unknown) => void) => void): unknown;
}
interface FastifyLike {
  raw: IncomingMessage & { [CONTEXT]?: RunInContext };
}
type RunInContext = (fn: () => void) => void;

const CONTEXT = Symbol('agent-security:context');

/**
 * Fastify hands its hooks FastifyRequest and FastifyReply; Node's objects are their `raw`. The door runs as an
 * `onRequest` hook, the stage before body parsing, added when the adapter is set (before `init()` registers middie
 * and Nest's middleware, before `listen()`). Nest's own onRequest hooks (the shutdown 503, CORS of `enableCors()`,
 * `useSecurityHeaders()`) were added when the adapter was created and run first: what the door answers carries the
 * security headers.
 *
 * Fastify reads a body from the socket's events, which run outside the async context the door opened for
 * nestjs-pino: a request with a body re-enters it before its handler (`preHandler`), so handler lines carry the
 * request id on POST as on GET. A request without a body runs its handler inside the door's context already.
 */
export const fastifySeam: HttpAdapterSeam = {
  type: 'fastify',
  mount(adapter, handle) {
    const fastify = adapter.getInstance<FastifyHooks>();
    fastify.addHook('onRequest', (request, reply, done) => {
      const raw = request.raw;
      const headers = raw.headers;
      if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
        return handle(raw, reply.raw, done);
      }
      handle(raw, reply.raw, (error) => {
        raw[CONTEXT] = AsyncLocalStorage.snapshot();
        done(error);
      });
    });
    fastify.addHook('preHandler', (request, _reply, done) => {
      const run = request.raw[CONTEXT];
      if (run === undefined) return done();
      run(done);
    });
  },
};
