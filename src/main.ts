import { Logger } from '@nestjs/common';
import { createDemoApp } from './bootstrap.js';
import { loadDemoConfig } from './demo-config.js';

const config = loadDemoConfig();
const app = await createDemoApp(config);
if (config.usingDevSecret) {
  new Logger('Demo').warn(
    '*** JWT_SECRET is not set: using the built-in DEVELOPMENT secret. Anyone can mint tokens for this server. Set JWT_SECRET (32+ bytes) outside development. ***',
  );
}
// Express listens on every interface by default, Fastify on localhost only: every interface on both.
if (config.httpAdapter === 'fastify') await app.listen(config.port, '0.0.0.0');
else await app.listen(config.port);
new Logger('Demo').log(`Agent API listening on http://localhost:${config.port} (${config.httpAdapter} adapter)`);
