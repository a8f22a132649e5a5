import type { IncomingMessage, ServerResponse } from 'http';

type NextFunction = (error?: unknown) => void;
type FrontHandler = (request: IncomingMessage, response: ServerResponse, next: NextFunction) => void;
/** Nest's request hook behind `app.useSecurityHeaders()` / `app.enableCsrfProtection()`: sets headers, may return a rejection. */
type SecurityHook = (request: IncomingMessage, response: ServerResponse) => unknown;

interface SecurityHookSeam {
  hook: SecurityHook | undefined;
}

interface AdapterWithSecurityHook {
  registerSecurityHook?: (hook: SecurityHook) => unknown;
}

const SEAM = Symbol('agent-security:security-hook');

/**
 * The module's front handler, with Nest's security hook run inside it.
 *
 * Nest mounts that hook with `use()` where `app.useSecurityHeaders()` is called, which is after the module's front
 * handler is mounted: a preflight the front handler ends would go out without the headers. Taking the hook over
 * (the adapter's `registerSecurityHook` seam) runs it first on every request instead, so whatever the front handler,
 * a guard, the body parser or the router answers carries the headers. A rejection the hook returns (the CSRF check)
 * still gets the request id, timing and log line before it reaches the exception layer.
 */
export function withSecurityHook(adapter: object, handle: FrontHandler): FrontHandler {
  const seam: SecurityHookSeam = { hook: undefined };
  const target = adapter as AdapterWithSecurityHook & { [SEAM]?: SecurityHookSeam };
  target[SEAM] = seam;
  if (typeof target.registerSecurityHook === 'function') {
    target.registerSecurityHook = (hook) => {
      seam.hook = hook;
      return adapter;
    };
  }
  return (request, response, next) => {
    const hook = seam.hook;
    if (hook === undefined) return handle(request, response, next);
    const rejection = hook(request, response);
    handle(request, response, rejection === undefined ? next : () => next(rejection));
  };
}

/**
 * The headers the app's security hook sets on every response, as `Name: value\r\n` lines, for the answers written
 * to the socket without a ServerResponse (Node's own 4xx). Empty when the app has none or the module does not hold it.
 */
export function securityHeaderLines(adapter: object | undefined): string {
  // Express: the hook the module took over (withSecurityHook). Fastify: Nest runs the hook in an onRequest hook of
  // its own, ahead of the module's front door, and keeps it as `securityHook`.
  const holder = adapter as { [SEAM]?: SecurityHookSeam; securityHook?: SecurityHook } | undefined;
  const hook = holder?.[SEAM]?.hook ?? holder?.securityHook;
  if (hook === undefined) return '';
  let lines = '';
  // The hook's headers do not depend on the request; a safe method passes the CSRF check without one.
  const recorder = {
    setHeader(name: string, value: unknown) {
      const text = Array.isArray(value) ? value.join(', ') : String(value);
      // A value Node itself would refuse to write never reaches the socket by hand either.
      if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[^\t\x20-\x7e]/.test(text)) lines += `${name}: ${text}\r\n`;
      return recorder;
    },
    removeHeader() {},
  };
  try {
    hook({ method: 'GET', url: '/', headers: {} } as IncomingMessage, recorder as unknown as ServerResponse);
  } catch {
    return '';
  }
  return lines;
}
