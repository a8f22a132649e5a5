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
