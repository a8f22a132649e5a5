import { Controller, Get, type INestApplication, Req } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingMessage } from 'http';
import { Writable } from 'stream';
import { AgentSecurityModule, type AgentSecurityOptions, type JwtOptions } from '@agent-security/core';

@Controller()
class WhoAmIController {
  @Get('me') me(@Req() request: IncomingMessage) {
    return { userId: request.principal?.userId, tier: request.principal?.tier };
  }
}

export interface JwtApp {
  app: INestApplication;
  /** Every JSON log line so far (debug level and up). */
  lines(): Record<string, unknown>[];
  /** The reasons of the "token refused" debug lines so far. */
  refusals(): string[];
  close(): Promise<void>;
}

/** An app with the module on the given jwt options, one `/me` route, and its log lines kept at debug level. */
export async function startJwtApp(jwt: JwtOptions, options: Partial<AgentSecurityOptions> = {}): Promise<JwtApp> {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  const moduleRef = await Test.createTestingModule({
    imports: [AgentSecurityModule.forRoot({ jwt, logging: { level: 'debug', destination }, ...options })],
    controllers: [WhoAmIController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return {
    app,
    lines: () => lines,
    refusals: () => lines.filter((line) => line.msg === 'token refused').map((line) => line.reason as string),
    close: () => app.close(),
  };
}
