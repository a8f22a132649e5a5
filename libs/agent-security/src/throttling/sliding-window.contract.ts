import type { SlidingWindowStore } from './sliding-window.interface';
import type { ThrottlerStorage } from '@nestjs/throttler';

type Store = SlidingWindowStore & ThrottlerStorage;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The behaviour both storages share: same inputs, same decisions, same reported times. */
export function describeSlidingWindowContract(name: string, getStore: () => Store): void {
  let seq = 0;
  const key = () => `contract:{${name}-${process.pid}-${++seq}}`;

  describe(`${name}: sliding-window contract`, () => {
    it('allows exactly the limit', async () => {
      const k = key();
      const results = [];
      for (let i = 0; i < 6; i++) results.push(await getStore().consume([{ key: k, limit: 4, windowMs: 10_000 }]));
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, false, false]);
      expect(results.map((r) => r.windows[0].totalHits)).toEqual([1, 2, 3, 4, 4, 4]);
      expect(results.map((r) => r.blockedBy)).toEqual([-1, -1, -1, -1, 0, 0]);
    });

    it('reports when the oldest counted request leaves the window', async () => {
      const k = key();
      const first = await getStore().consume([{ key: k, limit: 1, windowMs: 5000 }]);
      expect(first.windows[0].resetMs).toBeGreaterThan(4950);
      expect(first.windows[0].resetMs).toBeLessThanOrEqual(5000);
      await sleep(400);
      const refused = await getStore().consume([{ key: k, limit: 1, windowMs: 5000 }]);
      expect(refused.allowed).toBe(false);
      expect(refused.windows[0].resetMs).toBeGreaterThan(4500);
      expect(refused.windows[0].resetMs).toBeLessThanOrEqual(4620);
    });

    it('does not count refused requests, and slides', async () => {
      const k = key();
      const rule = [{ key: k, limit: 2, windowMs: 600 }];
      expect((await getStore().consume(rule)).allowed).toBe(true);
      await sleep(300);
      expect((await getStore().consume(rule)).allowed).toBe(true);
      for (let i = 0; i < 5; i++) expect((await getStore().consume(rule)).allowed).toBe(false);
      await sleep(330); // the first has aged out, the second has not
      expect((await getStore().consume(rule)).allowed).toBe(true);
      expect((await getStore().consume(rule)).allowed).toBe(false);
      await sleep(300);
      const again = await getStore().consume(rule);
      expect(again.allowed).toBe(true);
      expect(again.windows[0].totalHits).toBe(2);
    });

    it('records a request in every window or in none', async () => {
      const wide = key();
      const narrow = `${wide}:route`;
      const rules = [
        { key: wide, limit: 5, windowMs: 10_000 },
        { key: narrow, limit: 2, windowMs: 10_000 },
      ];
      expect((await getStore().consume(rules)).allowed).toBe(true);
      expect((await getStore().consume(rules)).allowed).toBe(true);
      const refused = await getStore().consume(rules);
      expect(refused).toMatchObject({ allowed: false, blockedBy: 1 });
      expect(refused.windows.map((w) => w.totalHits)).toEqual([2, 2]);
      const wideOnly = await getStore().consume([rules[0]]);
      expect(wideOnly.windows[0].totalHits).toBe(3);
    });

    it('keeps keys independent', async () => {
      const a = key();
      const b = key();
      await getStore().consume([{ key: a, limit: 1, windowMs: 10_000 }]);
      expect((await getStore().consume([{ key: a, limit: 1, windowMs: 10_000 }])).allowed).toBe(false);
      expect((await getStore().consume([{ key: b, limit: 1, windowMs: 10_000 }])).allowed).toBe(true);
    });

    it('refuses everything with a limit of 0', async () => {
      const result = await getStore().consume([{ key: key(), limit: 0, windowMs: 1000 }]);
      expect(result).toMatchObject({ allowed: false, blockedBy: 0, windows: [{ totalHits: 0, resetMs: 0 }] });
    });

    it('answers @nestjs/throttler increment() in seconds', async () => {
      const k = key();
      const first = await getStore().increment(k, 3000, 2, 3000, 'default');
      expect(first).toEqual({ totalHits: 1, timeToExpire: 3, isBlocked: false, timeToBlockExpire: 0 });
      await getStore().increment(k, 3000, 2, 3000, 'default');
      const blocked = await getStore().increment(k, 3000, 2, 3000, 'default');
      expect(blocked).toMatchObject({ totalHits: 2, isBlocked: true, timeToBlockExpire: 3 });
    });
  });
}
