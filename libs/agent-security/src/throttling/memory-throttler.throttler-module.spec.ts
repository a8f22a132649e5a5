import { Controller, Get, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Throttle, ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import request from 'supertest';
import { MemoryThrottlerStorage } from './memory-throttler.storage';

@Controller()
class PlainController {
  @Get('open')
  open(): string {
    return 'ok';
  }

  @Throttle({ short: { limit: 0, ttl: 60_000 } })
  @Get('closed')
  closed(): string {
    return 'never';
  }
}

/** The storage as a plain `ThrottlerModule` user wires it, without the rest of the module. */
describe('MemoryThrottlerStorage in a plain ThrottlerModule', () => {
  let now = 1_000_000;
  let storage: MemoryThrottlerStorage;
  let app: INestApplication;

  beforeAll(async () => {
    storage = new MemoryThrottlerStorage({ now: () => now });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [
            { name: 'short', ttl: 1000, limit: 3 },
            { name: 'long', ttl: 60_000, limit: 5 },
          ],
          storage,
          // One key per caller for every throttler: a common way to get one budget per user.
          generateKey: (_context, tracker) => tracker,
        }),
      ],
      controllers: [PlainController],
      providers: [{ provide: APP_GUARD, useClass: ThrottlerGuard }],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    storage.onApplicationShutdown();
  });

  it('keeps each named throttler in its own window: 5 a minute holds with requests 1.1 s apart', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      now += 1100;
      statuses.push((await request(app.getHttpServer()).get('/open')).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('tells a caller of a closed route (limit 0) to come back after the whole window', async () => {
    const res = await request(app.getHttpServer()).get('/closed').expect(429);
    expect(res.headers['retry-after-short']).toBe('60');
    await expect(storage.increment('closed', 30_000, 0, 30_000, 'default')).resolves.toEqual({
      totalHits: 0,
      timeToExpire: 30,
      isBlocked: true,
      timeToBlockExpire: 30,
    });
  });
});
