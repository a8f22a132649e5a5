import type { IncomingMessage, ServerResponse } from 'http';
import type { HttpAdapterSeam } from './adapter-seam.js';

interface FastifyHooks {
  addHook(name: 'onRequest' | 'preHandler', hook: (request: FastifyLike, reply: { raw: ServerResponse }, done: (error?: unknown) => void) => void): unknown;
}
interface FastifyLike {
  raw: IncomingMessage & { route?: RoutePath };
  routeOptions: { url?: string };
}
/** Express's `req.route` shape, which the request's log lines read their `route` from. */
type RoutePath = { readonly path: string };

/**
 * Fastify hands its hooks FastifyRequest and FastifyReply; Node's objects are their `raw`. The door runs as an
 * `onRequest` hook, the stage before body parsing, added when the adapter is set (before `init()` registers middie
 * and Nest's middleware, before `listen()`). Nest's own onRequest hooks (the shutdown 503, CORS of `enableCors()`,
 * `useSecurityHeaders()`) were added when the adapter was created and run first: what the door answers carries the
 * security headers. A preflight the door answers ends the response and never calls `done`, as Express's middleware
 * never calls `next`.
 *
 * A `preHandler` hook gives Node's request the matched route as Express's router does (`req.route.path`), so that
 * log lines name the route on both platforms.
 */
export const fastifySeam: HttpAdapterSeam = {
  type: 'fastify',
  mount(adapter, handle) {
    const fastify = adapter.getInstance<FastifyHooks>();
    fastify.addHook('onRequest', (request, reply, done) => handle(request.raw, reply.raw, done));
    // One frozen object per route, not per request.
    const routes = new Map<string, RoutePath>();
    fastify.addHook('preHandler', (request, _reply, done) => {
      const url = request.routeOptions.url;
      if (url !== undefined) {
        let route = routes.get(url);
        if (route === undefined) routes.set(url, (route = Object.freeze({ path: url })));
        request.raw.route = route;
      }
      done();
    });
  },
};
