import { randomBytes } from 'crypto';
import type { Cluster, Redis } from 'ioredis';
import { InvalidWindowRuleError } from '../throttling/invalid-window-rule.error.js';
import type { WindowState } from '../throttling/sliding-window.interface.js';
import { bucketMsFor } from '../usage/redis-usage.store.js';
import { TOKEN_BUCKETS } from '../usage/usage.constants.js';
import type { Admission, AdmissionRefusal, AdmissionResult, AdmissionStore } from './admission.interface.js';
import { ADMISSION_SCRIPT } from './admission.script.js';

interface AdmissionCommand {
  agentSecurityAdmit(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
}

const REFUSALS: ReadonlyArray<AdmissionRefusal | undefined> = [undefined, 'windows', 'tokens', 'streams', 'cost'];

/**
 * The admission script on Redis, one call per request (not batched with the plain routes' windows: a budgeted
 * request is rare beside them and waits for a model anyway). Called by SHA through ioredis's `defineCommand`, which
 * also routes it to the caller's slot on a Cluster client.
 */
export class RedisAdmissionStore implements AdmissionStore {
  private readonly redis: AdmissionCommand;
  private readonly instanceId = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(client: Redis | Cluster) {
    const commands = client as (Redis | Cluster) & Partial<AdmissionCommand>;
    if (typeof commands.agentSecurityAdmit !== 'function')
      client.defineCommand('agentSecurityAdmit', { lua: ADMISSION_SCRIPT });
    this.redis = client as unknown as AdmissionCommand;
  }

  async admit({ windows, tokens, reservation, cost, stream, report }: Admission): Promise<AdmissionResult> {
    const n = windows.length;
    for (const rule of windows) {
      if (!(rule.limit >= 0 && rule.limit < Infinity && rule.windowMs >= 1 && rule.windowMs < Infinity))
        throw new InvalidWindowRuleError(rule);
    }
    const keys: string[] = windows.map((rule) => rule.key);
    if (tokens !== undefined) keys.push(tokens.key);
    const reserve = tokens !== undefined && reservation !== undefined ? reservation : undefined;
    if (reserve !== undefined) keys.push(reserve.key);
    if (cost !== undefined) keys.push(cost.key);
    if (stream !== undefined) keys.push(stream.key);
    // A member unique per process and request: the windows are shared with the batched script's members.
    const args: Array<string | number> = [
      n,
      `${this.instanceId}:a${++this.sequence}`,
      tokens?.limit ?? -1,
      tokens === undefined ? 1 : bucketMsFor(tokens.windowMs),
      TOKEN_BUCKETS,
      stream?.max ?? -1,
      stream?.leaseId ?? '',
      stream?.leaseMs ?? 0,
      reserve?.tokens ?? -1,
      reserve?.member ?? '',
      reserve?.leaseMs ?? 0,
      cost?.limit ?? -1,
      cost === undefined ? 1 : bucketMsFor(cost.windowMs),
      report === true ? 1 : 0,
    ];
    for (const rule of windows) args.push(rule.limit, Math.ceil(rule.windowMs));
    const reply = await this.redis.agentSecurityAdmit(keys.length, ...keys, ...args);
    const refused = REFUSALS[reply[0]];
    const result: AdmissionResult = {
      refused,
      tokensUsed: reply[1],
      tokensResetMs: reply[2],
      tokensReserved: reply[4],
      costUsed: reply[5],
      costResetMs: reply[6],
      windows: undefined,
    };
    // The windows are in the reply when they were checked: always in report mode, else unless an earlier check refused.
    if (reply.length > 7 || (n === 0 && (refused === undefined || refused === 'windows'))) {
      const states: WindowState[] = new Array(n);
      for (let i = 0; i < n; i++) states[i] = { totalHits: reply[7 + 2 * i], resetMs: reply[8 + 2 * i] };
      result.windows = { allowed: reply[3] === -1, blockedBy: reply[3], windows: states };
    }
    return result;
  }
}
