import { Controller, Get, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import { Writable } from 'stream';
import request from 'supertest';
import { AgentSecurityModule, CurrentPrincipal, Public, type AgentPrincipal } from '@agent-security/core';
import { createTestToken, TEST_JWT_SECRET, testOptions } from '@agent-security/core/testing';

@Controller()
class ProbeController {
  @Public()
  @Get('open')
  open() {
    return { open: true };
  }

  @Get('me')
  me(@CurrentPrincipal() principal: AgentPrincipal) {
    return { userId: principal.userId, tier: principal.tier, claims: principal.claims };
  }
}

async function start(options: Parameters<typeof testOptions>[0] = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [AgentSecurityModule.forRoot(testOptions(options))],
    controllers: [ProbeController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/** A destination that keeps what the module's logger writes. */
function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

describe('createTestToken', () => {
  it('signs an HS256 JWT that jsonwebtoken verifies, with the given claims', () => {
    const token = createTestToken({
      secret: TEST_JWT_SECRET,
      sub: 'alice',
      tier: 'pro',
      scope: ['chat:write', 'usage:read'],
      issuer: 'https://auth.test',
      audience: 'agent-api',
      claims: { org: 'acme' },
    });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' });
    const claims = jwt.verify(token, TEST_JWT_SECRET, {
      algorithms: ['HS256'],
      issuer: 'https://auth.test',
      audience: 'agent-api',
    }) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: 'alice', tier: 'pro', scope: 'chat:write usage:read', org: 'acme' });
    expect(() => jwt.verify(token, `${TEST_JWT_SECRET}x`)).toThrow(/invalid signature/);
  });

  it("takes expiresIn as seconds or '1h'-style, one hour by default, and lets claims replace any of them", () => {
    const now = Math.floor(Date.now() / 1000);
    const exp = (expiresIn?: number | string) =>
      jwt.decode(createTestToken({ secret: 's', sub: 'a', expiresIn })) as jwt.JwtPayload;
    expect(exp().exp! - exp().iat!).toBe(3600);
    expect(exp(90).exp! - now).toBeGreaterThanOrEqual(89);
    expect(exp(90).exp! - now).toBeLessThanOrEqual(91);
    expect(exp('15m').exp! - exp('15m').iat!).toBe(900);
    expect(exp('2d').exp! - exp('2d').iat!).toBe(172800);
    expect(exp('30s').exp! - exp('30s').iat!).toBe(30);
    expect(() => exp('1 week')).toThrow(/expiresIn '1 week'/);
    const replaced = jwt.decode(
      createTestToken({ secret: 's', sub: 'a', tier: 'pro', claims: { tier: 'free', exp: 42 } }),
    ) as jwt.JwtPayload;
    expect(replaced).toMatchObject({ tier: 'free', exp: 42 });
  });
});

describe('testOptions', () => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('boots the module with the test secret, in memory: a test token is accepted, its tier applied', async () => {
    app = await start();
    await request(app.getHttpServer()).get('/open').expect(200, { open: true });
    await request(app.getHttpServer()).get('/me').expect(401);
    const token = createTestToken({ secret: TEST_JWT_SECRET, sub: 'alice', tier: 'pro' });
    const me = await request(app.getHttpServer()).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(me.body).toMatchObject({ userId: 'alice', tier: 'pro' });
    // The default tiers' pro limit, counted in memory (no Redis was given).
    expect(me.headers['ratelimit-policy']).toMatch(/^"?\w*"?;?q=200/i);
  });

  it('refuses an expired test token', async () => {
    app = await start();
    const token = createTestToken({ secret: TEST_JWT_SECRET, sub: 'alice', expiresIn: -10 });
    await request(app.getHttpServer()).get('/me').set('Authorization', `Bearer ${token}`).expect(401);
  });

  it('merges jwt overrides into the defaults: issuer and audience checked, the secret kept', async () => {
    app = await start({ jwt: { issuer: 'https://auth.test', audience: 'agent-api' } });
    const server = app.getHttpServer();
    const good = createTestToken({
      secret: TEST_JWT_SECRET,
      sub: 'bob',
      issuer: 'https://auth.test',
      audience: 'agent-api',
    });
    const wrongAudience = createTestToken({
      secret: TEST_JWT_SECRET,
      sub: 'bob',
      issuer: 'https://auth.test',
      audience: 'other',
    });
    await request(server).get('/me').set('Authorization', `Bearer ${good}`).expect(200);
    await request(server).get('/me').set('Authorization', `Bearer ${wrongAudience}`).expect(401);
  });

  it('logs nothing at its level, where the same app at level info logs every request', async () => {
    const quiet = capture();
    app = await start({ logging: { destination: quiet.stream } });
    await request(app.getHttpServer()).get('/open').expect(200);
    await request(app.getHttpServer()).get('/me').expect(401);
    await app.close();
    expect(quiet.lines).toEqual([]);

    const loud = capture();
    app = await start({ logging: { destination: loud.stream, level: 'info' } });
    await request(app.getHttpServer()).get('/open').expect(200);
    await app.close();
    app = undefined;
    expect(loud.lines.length).toBeGreaterThan(0);
  });
});
