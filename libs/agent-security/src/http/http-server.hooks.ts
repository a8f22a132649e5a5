import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'http';
import type { Logger as PinoLogger } from 'pino';
import { AGENT_SECURITY_LOGGER } from '../logging/logging.constants.js';
import { clientErrorListener, type ClientErrorLog } from './client-error.js';
import { securityHeaderLines } from './security-hook.js';

/**
 * Puts the module's answer on the errors Node's HTTP server answers by itself (see clientErrorListener), on the
 * server the adapter created: the one `app.listen()` starts and `app.getHttpServer()` returns.
 * At bootstrap, when the app's security headers are final.
 */
@Injectable()
export class HttpServerHooks implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;
  private listener: ReturnType<typeof clientErrorListener> | undefined;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(AGENT_SECURITY_LOGGER) private readonly root: PinoLogger | undefined,
  ) {}

  onApplicationBootstrap(): void {
    const adapter = this.adapterHost.httpAdapter;
    const server = adapter?.getHttpServer() as Server | undefined;
    if (server === undefined || typeof server.on !== 'function') return;
    const headerLines = securityHeaderLines(adapter);
    const root = this.root;
    const nest = new Logger('AgentSecurity');
    const log: ClientErrorLog =
      root === undefined
        ? (fields, message) => nest.warn(`${message} (request ${fields.requestId}, ${fields.reason})`)
        : (fields, message) => root.warn(fields, message);
    this.listener = clientErrorListener(() => headerLines, log);
    this.server = server;
    // Ahead of any listener already there (Fastify adds its own, which answers without an id): the module's answer
    // destroys the socket, and such a listener then finds nothing to answer.
    server.prependListener('clientError', this.listener);
  }

  onApplicationShutdown(): void {
    if (this.listener !== undefined) this.server?.off('clientError', this.listener);
  }
}
