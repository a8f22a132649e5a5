import type { HttpAdapterSeam } from './adapter-seam.js';
import { withSecurityHook } from './security-hook.js';

/** Express hands its middleware Node's own request and response: the door is one more `use()`, ahead of the body parser. */
export const expressSeam: HttpAdapterSeam = {
  type: 'express',
  // Nest's security hook (app.useSecurityHeaders()) runs inside the door, so the answers the door ends carry its headers.
  mount: (adapter, handle) => adapter.use(withSecurityHook(adapter, handle)),
};
