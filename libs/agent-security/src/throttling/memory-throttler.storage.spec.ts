import { MemoryThrottlerStorage } from './memory-throttler.storage';
import { describeSlidingWindowContract } from './sliding-window.contract';

describe('MemoryThrottlerStorage', () => {
  const store = new MemoryThrottlerStorage();
  afterAll(() => store.onApplicationShutdown());
  describeSlidingWindowContract('memory', () => store);

  it('holds at most `limit` entries per window, however many requests come', () => {
    let now = 0;
    const clock = new MemoryThrottlerStorage({ now: () => now });
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      clock.consumeSync([{ key: 'k', limit: 100, windowMs: 1000 }]);
    }
    expect(clock.entries('k')).toBeLessThanOrEqual(100);
    expect(clock.capacity('k')).toBeLessThanOrEqual(100);
    clock.onApplicationShutdown();
  });

  it('takes the same time per request with an empty and a full window', () => {
    const time = (fill: number) => {
      let now = 0;
      const s = new MemoryThrottlerStorage({ now: () => now });
      const rule = [{ key: 'k', limit: 100_000, windowMs: 1e12 }];
      for (let i = 0; i < fill; i++) s.consumeSync(rule);
      const refused = [{ key: 'k', limit: fill, windowMs: 1e12 }];
      const start = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) {
        now++;
        s.consumeSync(refused);
      }
      s.onApplicationShutdown();
      return Number(process.hrtime.bigint() - start);
    };
    time(10); // warm-up
    // O(1): a window holding 50 000 entries costs about what one holding 10 does (not 5 000 times more).
    expect(time(50_000)).toBeLessThan(time(10) * 20);
  });

  it('evicts idle windows', () => {
    let now = 1_000;
    const s = new MemoryThrottlerStorage({ now: () => now });
    s.consumeSync([{ key: 'idle', limit: 5, windowMs: 100 }]);
    s.consumeSync([{ key: 'busy', limit: 5, windowMs: 10_000 }]);
    now += 200;
    s.sweep();
    expect(s.size).toBe(1);
    expect(s.entries('busy')).toBe(1);
    s.onApplicationShutdown();
  });

  it('keeps at most maxKeys windows', () => {
    const s = new MemoryThrottlerStorage({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++) s.consumeSync([{ key: `k${i}`, limit: 5, windowMs: 60_000 }]);
    expect(s.size).toBeLessThanOrEqual(100);
    s.onApplicationShutdown();
  });
});
