import { MemoryThrottlerStorage, overflowCapacity } from './memory-throttler.storage';
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

describe('MemoryThrottlerStorage under a flood of anonymous IPs', () => {
  const HOUR = 3_600_000;
  const user = (sub: string) => [{ key: `rl:{user:${sub}}`, limit: 20, windowMs: HOUR }];
  const ip = (address: string, limit = 20, windowMs = HOUR) => [{ key: `rl:{ip:${address}}`, limit, windowMs }];
  const nth = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  let now: number;
  let stores: MemoryThrottlerStorage[];
  const make = (options: { maxKeys?: number; maxAnonymousKeys?: number }) => {
    const store = new MemoryThrottlerStorage({ ...options, now: () => now });
    stores.push(store);
    return store;
  };
  beforeEach(() => {
    now = 1_000_000;
    stores = [];
  });
  afterEach(() => stores.forEach((store) => store.onApplicationShutdown()));

  it("leaves a verified caller's spent budget spent, however many new IPs come", () => {
    const store = make({ maxKeys: 100, maxAnonymousKeys: 100 });
    for (let i = 0; i < 20; i++) expect(store.consumeSync(user('alice')).allowed).toBe(true);
    expect(store.consumeSync(user('alice')).allowed).toBe(false);
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      store.consumeSync(ip(nth(i)));
    }
    expect(store.consumeSync(user('alice'))).toMatchObject({ allowed: false, windows: [{ totalHits: 20 }] });
    expect(store.size).toBeLessThanOrEqual(100 + 100 + Math.ceil(100 / 16));
  });

  it('looks at a bounded number of windows per request, however full the store is', () => {
    const store = make({ maxAnonymousKeys: 2_000 });
    const costs = (from: number, count: number) => {
      const seen: number[] = [];
      for (let i = from; i < from + count; i++) {
        now += 1;
        const before = store.visited;
        store.consumeSync([...ip(nth(i)), { key: `rl:{ip:${nth(i)}}:route:x`, limit: 5, windowMs: 60_000 }]);
        store.consumeSync(user(`u${i % 50}`));
        seen.push(store.visited - before);
      }
      return seen;
    };
    const empty = costs(0, 200);
    costs(200, 5_000); // the anonymous part is now full of live windows
    const full = costs(10_000, 2_000);
    // Per call: three parts, four windows each, and four more for each of two new anonymous windows; two calls.
    expect(Math.max(...empty, ...full)).toBeLessThanOrEqual(40);
    expect(store.size).toBeLessThanOrEqual(2_000 + 1 + 50 + overflowCapacity(2_000) + 2);
    // Time passes: expiry a few windows at a time, on the requests themselves, makes room for new IPs' own windows.
    now += 2 * HOUR;
    const later = costs(20_000, 300);
    expect(Math.max(...later)).toBeLessThanOrEqual(40);
    expect(store.consumeSync(ip('192.0.2.7', 1))).toMatchObject({ allowed: true });
    expect(store.consumeSync(ip('192.0.2.8', 1))).toMatchObject({ allowed: true }); // its own window, not 192.0.2.7's
  });

  it('gives new IPs their network’s shared overflow window once the anonymous part is full, never a fresh budget', () => {
    const store = make({ maxAnonymousKeys: 10 });
    for (let i = 1; i <= 10; i++) store.consumeSync(ip(`198.51.100.${i}`, 3, 1000));
    // Full of live windows: new IPs of 203.0.113.0/24 share one window of 3.
    expect(store.consumeSync(ip('203.0.113.1', 3)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.113.2', 3)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.113.3', 3)).windows[0].totalHits).toBe(3);
    expect(store.consumeSync(ip('203.0.113.4', 3)).allowed).toBe(false);
    // Another network has its own overflow window; an IP that had its own window keeps it.
    expect(store.consumeSync(ip('203.0.114.1', 3)).allowed).toBe(true);
    expect(store.consumeSync(ip('198.51.100.1', 3, 1000)).windows[0].totalHits).toBe(2);
    // IPv6 (keyed by /64 by the guard) shares by /48.
    expect(store.consumeSync(ip('2001:db8:1:2::/64', 1)).allowed).toBe(true);
    expect(store.consumeSync(ip('2001:db8:1:3::/64', 1)).allowed).toBe(false);
    expect(store.consumeSync(ip('2001:db8:2:3::/64', 1)).allowed).toBe(true);

    // The anonymous part empties; a network's overflow window still lives, so its IPs stay in it until it expires.
    now += 2000;
    store.sweep();
    expect(store.consumeSync(ip('203.0.113.9', 3)).allowed).toBe(false);
    expect(store.consumeSync(ip('203.0.115.1', 1)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.115.2', 1)).allowed).toBe(true); // own windows again
  });

  it('lets every network without an overflow window of its own share one once the overflow part is full too', () => {
    const store = make({ maxAnonymousKeys: 16 });
    for (let i = 1; i <= 16; i++) store.consumeSync(ip(`198.51.100.${i}`, 2));
    for (let i = 0; i < overflowCapacity(16); i++) expect(store.consumeSync(ip(`203.1.${i}.1`, 2)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.1.1', 2)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.2.1', 2)).allowed).toBe(true);
    expect(store.consumeSync(ip('203.0.3.1', 2)).allowed).toBe(false);
  });
});
