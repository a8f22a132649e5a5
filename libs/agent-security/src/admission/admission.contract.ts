import type { SlidingWindowStore } from '../throttling/sliding-window.interface';
import type { UsageStore } from '../usage/usage-store.interface';
import type { AdmissionStore } from './admission.interface';

export interface AdmissionStores {
  admission: AdmissionStore;
  /** The windows plain routes use: an admission counts in the same ones. */
  windows: SlidingWindowStore;
  usage: UsageStore;
}

/** The behaviour both admission stores share: same inputs, same decisions, nothing taken on a refusal. */
export function describeAdmissionContract(name: string, get: () => AdmissionStores): void {
  let seq = 0;
  const caller = () => `admission-contract:{${name}-${process.pid}-${++seq}}`;
  const window = (key: string, limit = 3) => ({ key, limit, windowMs: 60_000 });
  const tokens = (key: string, limit = 100) => ({ key: `${key}:tokens`, limit, windowMs: 60_000 });
  const stream = (key: string, leaseId: string, max = 1) => ({ key: `${key}:streams`, leaseId, max, leaseMs: 10_000 });
  /** The caller's window count now, read by counting one more plain request against a generous limit. */
  const counted = async (key: string) =>
    (await get().windows.consume([{ key, limit: 1000, windowMs: 60_000 }])).windows[0].totalHits - 1;

  describe(`${name}: admission contract`, () => {
    it('admits: counts the request in every window, in the windows plain routes share, and takes the slot', async () => {
      const k = caller();
      const result = await get().admission.admit({
        windows: [window(k), window(`${k}:route`, 1)],
        tokens: tokens(k),
        stream: stream(k, 'a'),
      });
      expect(result).toMatchObject({ refused: undefined, tokensUsed: 0, windows: { allowed: true, blockedBy: -1 } });
      expect(result.windows!.windows.map((w) => w.totalHits)).toEqual([1, 1]);
      expect(result.windows!.windows[0].resetMs).toBeGreaterThan(59_000);
      expect(await counted(k)).toBe(1);
      expect(await get().usage.acquireStream(`${k}:streams`, 'b', 1, 10_000)).toBe(false);
    });

    it('refuses a spent budget before anything is taken, and reports the tokens used', async () => {
      const k = caller();
      await get().usage.recordTokens(`${k}:tokens`, 120, 60_000);
      const result = await get().admission.admit({ windows: [window(k)], tokens: tokens(k), stream: stream(k, 'a') });
      expect(result).toMatchObject({ refused: 'tokens', tokensUsed: 120, windows: undefined });
      expect(result.tokensResetMs).toBeGreaterThan(58_000);
      expect(await counted(k)).toBe(0);
      expect(await get().usage.acquireStream(`${k}:streams`, 'b', 1, 10_000)).toBe(true);
    });

    it('refuses a full stream cap before the windows are counted', async () => {
      const k = caller();
      expect(
        (await get().admission.admit({ windows: [window(k)], tokens: tokens(k), stream: stream(k, 'a') })).refused,
      ).toBeUndefined();
      const result = await get().admission.admit({ windows: [window(k)], tokens: tokens(k), stream: stream(k, 'b') });
      expect(result).toMatchObject({ refused: 'streams', windows: undefined });
      expect(await counted(k)).toBe(1);
      await get().usage.releaseStream(`${k}:streams`, 'a');
      expect((await get().admission.admit({ windows: [window(k)], stream: stream(k, 'c') })).refused).toBeUndefined();
    });

    it('refuses a full window without taking the slot or the other windows', async () => {
      const k = caller();
      const rules = [window(k, 5), window(`${k}:route`, 1)];
      expect((await get().admission.admit({ windows: rules, tokens: tokens(k) })).refused).toBeUndefined();
      const result = await get().admission.admit({ windows: rules, tokens: tokens(k), stream: stream(k, 'a') });
      expect(result).toMatchObject({ refused: 'windows', windows: { allowed: false, blockedBy: 1 } });
      expect(result.windows!.windows.map((w) => w.totalHits)).toEqual([1, 1]);
      expect(await counted(k)).toBe(1);
      expect(await get().usage.acquireStream(`${k}:streams`, 'b', 1, 10_000)).toBe(true);
    });

    it('holds reservations: refused once used + in flight + this one exceed the budget; a settled one frees what it did not spend', async () => {
      const k = caller();
      const reservation = (id: string, tokens: number, leaseMs = 10_000) => ({
        key: `${k}:reserved`,
        member: `${tokens}:${id}`,
        tokens,
        leaseMs,
      });
      await get().usage.recordTokens(`${k}:tokens`, 50, 60_000);
      for (const id of ['a', 'b'])
        expect(
          (await get().admission.admit({ windows: [], tokens: tokens(k), reservation: reservation(id, 20) })).refused,
        ).toBeUndefined();
      const refused = await get().admission.admit({
        windows: [window(k)],
        tokens: tokens(k),
        reservation: reservation('c', 31),
      });
      expect(refused).toMatchObject({ refused: 'tokens', tokensUsed: 50, tokensReserved: 40 });
      expect(await counted(k)).toBe(0);
      await get().usage.settleReservation(`${k}:tokens`, 5, 60_000, `${k}:reserved`, '20:a');
      const admitted = await get().admission.admit({
        windows: [],
        tokens: tokens(k),
        reservation: reservation('c', 25),
      });
      expect(admitted).toMatchObject({ refused: undefined, tokensUsed: 55, tokensReserved: 20 });
    });

    it('lets a reservation that is never settled (its instance died) expire with its lease', async () => {
      const k = caller();
      const held = { key: `${k}:reserved`, member: '100:a', tokens: 100, leaseMs: 150 };
      expect(
        (await get().admission.admit({ windows: [], tokens: tokens(k), reservation: held })).refused,
      ).toBeUndefined();
      const next = { ...held, member: '100:b', leaseMs: 10_000 };
      expect((await get().admission.admit({ windows: [], tokens: tokens(k), reservation: next })).refused).toBe(
        'tokens',
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(
        (await get().admission.admit({ windows: [], tokens: tokens(k), reservation: next })).refused,
      ).toBeUndefined();
    });

    it('admits without windows (@SkipThrottle()) and without a budget', async () => {
      const k = caller();
      const result = await get().admission.admit({ windows: [], stream: stream(k, 'a') });
      expect(result).toMatchObject({ refused: undefined, tokensUsed: 0, windows: { allowed: true, windows: [] } });
      expect(await counted(k)).toBe(0);
    });
  });
}
