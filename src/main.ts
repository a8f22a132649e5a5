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
await app.listen(config.port);
new Logger('Demo').log(`Agent API listening on http://localhost:${config.port}`);
