import { generateKeyPairSync } from 'crypto';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { Public, RequireScopes, type AgentSecurityOptions } from '@agent-security/core';
import { bearer, signToken, TEST_SECRET } from './support/demo-app';
import { startApp } from '../libs/agent-security/test/support/build-app';
import { onEachPlatform } from './support/platform';

@RequireScopes('agent:read')
@Controller('things')
class ThingsController {
  @Get()
  list() {
    return [];
  }

  @RequireScopes('agent:tools', 'agent:admin')
  @Get('tool')
  tool() {
    return {};
  }

  /** Public: its scopes can never be asked for, so the document does not list them. */
  @Public()
  @RequireScopes('never:listed')
  @Get('open')
  open() {
    return {};
  }
}

@Controller('plain')
class PlainController {
  @Get()
  plain() {
    return {};
  }
}

function start(options: Partial<AgentSecurityOptions>): Promise<INestApplication> {
  return startApp({ logging: false, ...options, jwt: { secret: TEST_SECRET, ...options.jwt } }, [
    ThingsController,
    PlainController,
  ]);
}

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

onEachPlatform(() => {
  describe('Protected Resource Metadata, RFC 9728 (e2e)', () => {
    describe('with jwt.resource', () => {
      let app: INestApplication;
      const resource = 'https://api.example.com/agent';
      const metadataUrl = 'https://api.example.com/.well-known/oauth-protected-resource/agent';

      beforeAll(async () => {
        app = await start({
          jwt: { secret: TEST_SECRET, issuer: 'https://auth.example.com/', resource, allowQueryToken: true },
          anonymous: { limit: 5, windowMs: 60_000 },
        });
      });
      afterAll(() => app.close());

      it('serves the document at the well-known path and at the path RFC 9728 §3.1 builds from the resource', async () => {
        for (const path of [WELL_KNOWN, `${WELL_KNOWN}/agent`]) {
          const res = await request(app.getHttpServer()).get(path).expect(200);
          expect(res.headers['content-type']).toMatch(/^application\/json/);
          expect(res.body).toEqual({
            resource,
            authorization_servers: ['https://auth.example.com/'],
            scopes_supported: ['agent:admin', 'agent:read', 'agent:tools'],
            bearer_methods_supported: ['header', 'query'],
          });
        }
        await request(app.getHttpServer()).get(`${WELL_KNOWN}/other`).expect(404);
      });

      it('names the document in every 401 and in the 403 of a missing scope', async () => {
        const missing = await request(app.getHttpServer()).get('/things').expect(401);
        expect(missing.headers['www-authenticate']).toBe(
          `Bearer realm="agent-security", scope="agent:read", resource_metadata="${metadataUrl}"`,
        );
        const invalid = await request(app.getHttpServer()).get('/things').set(bearer('a.b.c')).expect(401);
        expect(invalid.headers['www-authenticate']).toBe(
          `Bearer realm="agent-security", error="invalid_token", scope="agent:read", resource_metadata="${metadataUrl}"`,
        );
        // A route of the app that requires no scope: the same document, no scope.
        const unscoped = await request(app.getHttpServer()).get('/plain').expect(401);
        expect(unscoped.headers['www-authenticate']).toBe(
          `Bearer realm="agent-security", resource_metadata="${metadataUrl}"`,
        );
        const forbidden = await request(app.getHttpServer())
          .get('/things/tool')
          .set(bearer(signToken({ scope: 'agent:read' }, { issuer: 'https://auth.example.com/' })))
          .expect(403);
        expect(forbidden.headers['www-authenticate']).toBe(
          `Bearer realm="agent-security", error="insufficient_scope", scope="agent:read agent:tools agent:admin", resource_metadata="${metadataUrl}"`,
        );
      });

      it('is public and limited per client IP as any public route', async () => {
        // Three of the five were spent by the first test, its 404 included.
        await request(app.getHttpServer()).get(WELL_KNOWN).expect(200);
        await request(app.getHttpServer()).get(WELL_KNOWN).expect(200);
        await request(app.getHttpServer()).get(WELL_KNOWN).expect(429);
      });
    });

    it('takes the audience as the resource for tokens of one issuer signed with a public key', async () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const app = await start({
        jwt: {
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
          algorithms: ['ES256'],
          issuer: 'https://auth.example.com/',
          audience: 'https://api.example.com',
        },
      });
      try {
        const res = await request(app.getHttpServer()).get(WELL_KNOWN).expect(200);
        expect(res.body).toMatchObject({ resource: 'https://api.example.com', bearer_methods_supported: ['header'] });
        const refused = await request(app.getHttpServer()).get('/things').expect(401);
        expect(refused.headers['www-authenticate']).toContain(
          'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"',
        );
      } finally {
        await app.close();
      }
    });

    it('names the jwt.resourceMetadataUrl override in 401s', async () => {
      const app = await start({
        jwt: {
          secret: TEST_SECRET,
          resource: 'https://api.example.com',
          resourceMetadataUrl: 'https://example.com/api/.well-known/oauth-protected-resource',
        },
      });
      try {
        const refused = await request(app.getHttpServer()).get('/things').expect(401);
        expect(refused.headers['www-authenticate']).toContain(
          'resource_metadata="https://example.com/api/.well-known/oauth-protected-resource"',
        );
      } finally {
        await app.close();
      }
    });

    it('serves nothing and adds nothing to 401s without a resource', async () => {
      const app = await start({
        jwt: { secret: TEST_SECRET, issuer: 'https://auth.example.com/', audience: 'https://api.example.com' },
      });
      try {
        const res = await request(app.getHttpServer()).get(WELL_KNOWN).expect(404);
        expect(res.body.statusCode).toBe(404);
        const refused = await request(app.getHttpServer()).get('/things').expect(401);
        expect(refused.headers['www-authenticate']).toBe('Bearer realm="agent-security", scope="agent:read"');
        // A token of the shared secret is still accepted as before.
        await request(app.getHttpServer())
          .get('/things')
          .set(
            bearer(
              jwt.sign(
                { sub: 'a', scope: 'agent:read', iss: 'https://auth.example.com/', aud: 'https://api.example.com' },
                TEST_SECRET,
                { expiresIn: 60 },
              ),
            ),
          )
          .expect(200);
      } finally {
        await app.close();
      }
    });

    it('refuses a resource that is no absolute http(s) URL, at start-up', async () => {
      await expect(start({ jwt: { secret: TEST_SECRET, resource: 'api://agent' } })).rejects.toThrow(
        /"jwt.resource": must be an absolute http\(s\) URL/,
      );
      await expect(start({ jwt: { secret: TEST_SECRET, resource: 'https://api.example.com/#x' } })).rejects.toThrow(
        /"jwt.resource"/,
      );
    });
  });
});
