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
  app.enableShutdownHooks();
  return app;
}
