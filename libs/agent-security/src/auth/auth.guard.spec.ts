import { Controller, Get, UnauthorizedException, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { JwtService } from '@nestjs/jwt';
import jwt from 'jsonwebtoken';
import { resolveAgentSecurityConfig } from '../agent-security.config';
import { AuthGuard, bearerToken } from './auth.guard';
import { Public } from './public.decorator';
import { TokenVerifier } from './token-verifier';
import type { AgentPrincipal } from './agent-principal.interface';

const SECRET = 'unit-test-secret-of-at-least-32-bytes';

@Public()
@Controller()
class PublicController {
  @Get() open() {}
  @Public(false) @Get('closed') closed() {}
}

@Controller()
class PrivateController {
  @Get() closed() {}
  @Public() @Get('open') open() {}
}

// One inherited handler function served by a public and a private controller.
class BaseController {
  @Get('shared') shared() {}
}
@Public()
@Controller('open-subclass')
class OpenSubclass extends BaseController {}
@Controller('closed-subclass')
class ClosedSubclass extends BaseController {}

function contextFor(controller: Function, handler: Function, headers: Record<string, string> = {}) {
  const request: Record<string, unknown> = { headers };
  const response = {
    headers: {} as Record<string, string>,
    setHeader(name: string, value: string) {
      this.headers[name] = value;
    },
  };
  return {
    request,
    response,
    context: new ExecutionContextHost([request, response], controller as Type, handler),
  };
}

describe('AuthGuard', () => {
  const config = resolveAgentSecurityConfig({ jwt: { secret: SECRET } });
  const guard = new AuthGuard(new Reflector(), new TokenVerifier(config, new JwtService({ secret: SECRET })), config);
  const token = jwt.sign({ sub: 'alice', tier: 'pro' }, SECRET, { expiresIn: 60 });

  it('lets a @Public() class through and lets a handler override it', () => {
    expect(guard.canActivate(contextFor(PublicController, PublicController.prototype.open).context)).toBe(true);
    expect(() => guard.canActivate(contextFor(PublicController, PublicController.prototype.closed).context)).toThrow(
      UnauthorizedException,
    );
  });

  it('lets a @Public() handler of a private class through', () => {
    expect(guard.canActivate(contextFor(PrivateController, PrivateController.prototype.open).context)).toBe(true);
    expect(() => guard.canActivate(contextFor(PrivateController, PrivateController.prototype.closed).context)).toThrow(
      UnauthorizedException,
    );
  });

  it('keeps apart two controllers that inherit one handler, in either order and on every request', () => {
    for (let i = 0; i < 2; i++) {
      expect(guard.canActivate(contextFor(OpenSubclass, BaseController.prototype.shared).context)).toBe(true);
      expect(() => guard.canActivate(contextFor(ClosedSubclass, BaseController.prototype.shared).context)).toThrow(
        UnauthorizedException,
      );
      expect(guard.canActivate(contextFor(OpenSubclass, BaseController.prototype.shared).context)).toBe(true);
    }
  });

  it('puts a frozen principal on the request', () => {
    const { context, request } = contextFor(PrivateController, PrivateController.prototype.closed, {
      authorization: `Bearer ${token}`,
    });
    expect(guard.canActivate(context)).toBe(true);
    expect(request.principal).toMatchObject({ userId: 'alice', tier: 'pro', claims: { sub: 'alice', tier: 'pro' } });
    expect(Object.isFrozen(request.principal)).toBe(true);
  });

  it('freezes nested claims too: a handler cannot change them for the requests after it, which share the cached principal', () => {
    const verifier = new TokenVerifier(config, new JwtService({ secret: SECRET }));
    const withRoles = jwt.sign({ sub: 'alice', roles: ['user'], org: { plan: 'basic' } }, SECRET, { expiresIn: 60 });
    const first = (verifier.verify(withRoles) as AgentPrincipal).claims as unknown as {
      roles: string[];
      org: { plan: string };
    };
    expect(() => first.roles.push('admin')).toThrow(TypeError);
    expect(() => {
      first.org.plan = 'enterprise';
    }).toThrow(TypeError);
    expect((verifier.verify(withRoles) as AgentPrincipal).claims).toMatchObject({
      roles: ['user'],
      org: { plan: 'basic' },
    });
  });

  it('refuses a handler of another transport (WebSocket, microservice, GraphQL) unless it is @Public(), instead of letting it through', () => {
    for (const type of ['ws', 'rpc', 'graphql']) {
      const closed = contextFor(PrivateController, PrivateController.prototype.closed).context;
      closed.setType(type);
      expect([type, guard.canActivate(closed)]).toEqual([type, false]);
      const open = contextFor(PrivateController, PrivateController.prototype.open).context;
      open.setType(type);
      expect([type, guard.canActivate(open)]).toEqual([type, true]);
    }
  });

  it('sets a Bearer challenge on rejection', () => {
    const { context, response } = contextFor(PrivateController, PrivateController.prototype.closed, {
      authorization: 'Bearer x.y.z',
    });
    expect(() => guard.canActivate(context)).toThrow('Invalid token');
    expect(response.headers['WWW-Authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it('remembers a verified token: the second check does not verify the signature again', () => {
    const jwtService = new JwtService({ secret: SECRET });
    const verify = jest.spyOn(jwtService, 'verify');
    const verifier = new TokenVerifier(config, jwtService);
    void verifier.verify(token);
    void verifier.verify(token);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it('answers from the cache only the exact token it verified, not another that ends the same way', () => {
    const jwtService = new JwtService({ secret: SECRET });
    const verify = jest.spyOn(jwtService, 'verify');
    const verifier = new TokenVerifier(config, jwtService);
    const genuine = jwt.sign({ sub: 'alice', tier: 'free' }, SECRET, { expiresIn: 60 });
    expect((verifier.verify(genuine) as AgentPrincipal).userId).toBe('alice');
    // The same signature under a payload that claims another user and tier: same last characters, other token.
    const [header, , signature] = genuine.split('.');
    const payload = Buffer.from(
      JSON.stringify({ sub: 'mallory', tier: 'enterprise', exp: Math.floor(Date.now() / 1000) + 60 }),
    ).toString('base64url');
    const forged = `${header}.${payload}.${signature}`;
    expect(() => verifier.verify(forged)).toThrow('Invalid token');
    expect(verify).toHaveBeenCalledTimes(2);
    // The genuine token is still known, and still only to itself.
    expect((verifier.verify(genuine) as AgentPrincipal).userId).toBe('alice');
    expect(() => verifier.verify(forged)).toThrow('Invalid token');
  });

  it('keeps its cache bounded', () => {
    const small = resolveAgentSecurityConfig({ jwt: { secret: SECRET, cacheSize: 2 } });
    const jwtService = new JwtService({ secret: SECRET });
    const verify = jest.spyOn(jwtService, 'verify');
    const verifier = new TokenVerifier(small, jwtService);
    const tokens = ['a', 'b', 'c'].map((sub) => jwt.sign({ sub }, SECRET, { expiresIn: 60 }));
    tokens.forEach((t) => verifier.verify(t));
    void verifier.verify(tokens[0]);
    expect(verify).toHaveBeenCalledTimes(4);
  });
});

describe('bearerToken', () => {
  it.each([
    [undefined, undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearer  ', undefined],
    ['Basic abc', undefined],
    ['Bearerabc.def.ghi', undefined],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc ', 'abc'],
  ])('%j -> %j', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});
