import { Logger } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { resolveAgentSecurityConfig } from '../agent-security.config';
import { RedisConnection } from './redis-connection';

const connect = (redis: Record<string, unknown>, commandTimeoutMs?: number) =>
  // lazyConnect: only the options are looked at; nothing is sent.
  new RedisConnection(
    resolveAgentSecurityConfig({
      jwt: { secret: 'x'.repeat(32) },
      redis: { lazyConnect: true, ...redis },
      throttling: { commandTimeoutMs },
    }),
  );

describe('RedisConnection options', () => {
  it('fails fast by default: the rate-limit timeout, no offline queue, no retries per command', () => {
    const { options } = connect({}, 80).client as unknown as { options: Record<string, unknown> };
    expect(options).toMatchObject({
      commandTimeout: 80,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
    });
  });

  it('keeps the defaults for options given as undefined', () => {
    const { options } = connect({ commandTimeout: undefined, enableOfflineQueue: undefined }, 80).client as unknown as {
      options: Record<string, unknown>;
    };
    expect(options).toMatchObject({ commandTimeout: 80, enableOfflineQueue: false });
  });

  it('keeps what the user set on the ioredis options, which were overwritten before', () => {
    const retryStrategy = () => 5000;
    const { options } = connect({
      retryStrategy,
      commandTimeout: 321,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 2,
    }).client as unknown as {
      options: Record<string, unknown>;
    };
    expect(options).toMatchObject({
      retryStrategy,
      commandTimeout: 321,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 2,
    });
  });

  it('warns at start-up about a Cluster that would queue commands, untimed, while no node answers', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const config = (cluster: Cluster) =>
        resolveAgentSecurityConfig({ jwt: { secret: 'x'.repeat(32) }, redis: cluster });
      const nodes = [{ host: '127.0.0.1', port: 1 }];
      new RedisConnection(config(new Cluster(nodes, { lazyConnect: true, redisOptions: { commandTimeout: 50 } })));
      expect(warn.mock.calls.map(([message]) => String(message))).toEqual([
        expect.stringContaining('{ enableOfflineQueue: false }'),
      ]);
      warn.mockClear();
      new RedisConnection(
        config(
          new Cluster(nodes, { lazyConnect: true, enableOfflineQueue: false, redisOptions: { commandTimeout: 50 } }),
        ),
      );
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
