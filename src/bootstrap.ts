import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { DemoConfig } from './demo-config.js';

/** Builds the demo app exactly as `npm start` runs it; the end-to-end tests use it too. */
export async function createDemoApp(config: DemoConfig): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { bufferLogs: true });
  // Nest's own lines (start-up, errors) go through the module's pino logger too.
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // helmet 8's headers on every response, the module's own answers included; a JSON API loads nothing and is framed by no one.
  app.useSecurityHeaders({ contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });
  app.enableShutdownHooks();
  return app;
}
