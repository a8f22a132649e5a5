import type { IncomingMessage, ServerResponse } from 'http';
import type { HttpAdapterSeam } from './adapter-seam.js';

type Hook = (request: FastifyLike, reply: { raw: ServerResponse }, done: (error?: unknown) => void) => void;
interface FastifyHooks {
  addHook(name: 'onRequest', hook: Hook): unknown;
  addHook(name: 'onRoute', hook: (route: { url: string; handler: RouteHandler }) => void): unknown;
}
interface FastifyLike {
  raw: IncomingMessage & { route?: RoutePath };
}
type RouteHandler = (this: unknown, request: FastifyLike, reply: unknown) => unknown;
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
 * Each route's handler is wrapped (as Fastify registers the route) to give Node's request the route as Express's
 * router does (`req.route.path`), so that log lines name the route on both platforms. Nest runs its guards, pipes and
 * filters inside that handler, so they all see it. Per route, not one global hook: Fastify's `request.routeOptions`
 * builds a fresh object on every read; and a wrapped handler, not a `preHandler` hook: a route with no preHandler
 * hooks skips that stage and the hook runner it would allocate per request.
 */
export const fastifySeam: HttpAdapterSeam = {
  type: 'fastify',
  mount(adapter, handle) {
    const fastify = adapter.getInstance<FastifyHooks>();
    fastify.addHook('onRequest', (request, reply, done) => handle(request.raw, reply.raw, done));
    fastify.addHook('onRoute', (options) => {
      const route: RoutePath = Object.freeze({ path: options.url });
      const handler = options.handler;
      options.handler = function (this: unknown, request: FastifyLike, reply: unknown) {
        request.raw.route = route;
        return handler.call(this, request, reply);
      };
    });
  },
};
