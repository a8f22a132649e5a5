import type { INestApplication } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import request from 'supertest';
import { bearer, signToken, startDemo } from './support/demo-app';
import { redisCli, startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

onEachPlatform(() => {
  describe('Redis Cluster: three masters, two app instances', () => {
    const nodes: RedisProcess[] = [];
    const clients: Cluster[] = [];
    const apps: INestApplication[] = [];
    const limit = 10;
    let dir: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'agent-security-cluster-'));
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await startRedis({
            args: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              `nodes-${i}.conf`,
              '--cluster-node-timeout',
              '2000',
              '--dir',
              dir,
            ],
          }),
        );
      }
      redisCli([
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      const deadline = Date.now() + 10_000;
      while (!nodes.every((n) => redisCli(['-p', String(n.port), 'cluster', 'info']).includes('cluster_state:ok'))) {
        if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
        await sleep(100);
      }
      const env = { AGENT_SECURITY_TIERS: JSON.stringify({ free: { limit, windowMs: 60_000 } }) };
      for (let i = 0; i < 2; i++) {
        const cluster = new Cluster(
          nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
          {
            redisOptions: { commandTimeout: 500 },
          },
        );
        clients.push(cluster);
        apps.push(await startDemo({ redis: cluster }, env));
      }
    }, 30_000);

    afterAll(async () => {
      for (const app of apps) await app.close();
      for (const client of clients) client.disconnect();
      for (const node of nodes) await node.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it.each([1, 2, 3])('holds the limit exactly across both instances (round %i)', async (round) => {
      const token = signToken({ sub: `cluster-${process.pid}-${round}` });
      const statuses = await Promise.all(
        Array.from({ length: 3 * limit }, (_, i) =>
          request(apps[i % 2].getHttpServer())
            .get('/me')
            .set(bearer(token))
            .then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(limit);
      expect(statuses.filter((s) => s === 429)).toHaveLength(2 * limit);
    });

    it('spreads callers over the masters, each caller in one slot', async () => {
      const subs = Array.from({ length: 30 }, (_, i) => `spread-${process.pid}-${i}`);
      for (const sub of subs)
        await request(apps[0].getHttpServer())
          .get('/me')
          .set(bearer(signToken({ sub })))
          .expect(200);
      const perNode = nodes.map((n) => Number(redisCli(['-p', String(n.port), 'dbsize']).trim()));
      expect(perNode.filter((count) => count > 0).length).toBe(3);
    });

    it('holds a route window and the tier window of one caller in one script (same hash slot)', async () => {
      // Redis Cluster refuses a script whose keys span slots (CROSSSLOT): the two windows of a @Throttle() route share the tag.
      const token = signToken({ sub: `slot-${process.pid}` });
      const res = await request(apps[0].getHttpServer())
        .post('/agent/chat')
        .set(bearer(token))
        .send({ message: 'hello' })
        .expect(200);
      expect(res.headers['ratelimit-policy']).toBe(`"free";q=${limit};w=60, "route";q=10;w=60`);
    });
  });
});
