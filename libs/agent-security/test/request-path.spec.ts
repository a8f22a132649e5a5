import { Controller, Get, Post } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import request from 'supertest';
import { Public, TokenBudget } from '@agent-security/core';
import { AdmissionGuard } from '../src/admission/admission.guard';
import { AGENT_SECURITY_ADMISSION_STORE } from '../src/admission/admission.constants';
import type { AdmissionStore } from '../src/admission/admission.interface';
import { seamFor } from '../src/http/adapter-seams';
import { buildApp, type BuiltApp } from './support/build-app';
import { onEachPlatform } from '../../../test/support/platform';

@Controller()
class PathController {
  @Post('chat')
  @TokenBudget()
  chat() {
    return { usage: { inputTokens: 1, outputTokens: 0 } };
  }

  @Public()
  @Get('open')
  open() {
    return { ok: true };
  }
}

onEachPlatform(() => {
  describe('The request path', () => {
    let built: BuiltApp;
    beforeAll(async () => {
      built = await buildApp(
        {
          tiers: { free: { limit: 10, windowMs: 60_000, tokens: { limit: 100, windowMs: 60_000 } } },
          defaultTier: 'free',
          cors: { origins: ['https://app.example.com'] },
        },
        [PathController],
      );
    });
    afterAll(() => built.close());

    it('has one global guard, which states the order of the checks', () => {
      const guards = built.app.get(ApplicationConfig).getGlobalGuards();
      expect(guards).toHaveLength(1);
      expect(guards[0]).toBeInstanceOf(AdmissionGuard);
    });

    it('authenticates before the admission: a refused token never reaches the store', async () => {
      const store = built.app.get<AdmissionStore>(AGENT_SECURITY_ADMISSION_STORE);
      const admit = jest.spyOn(store, 'admit');
      await request(built.server).post('/chat').set({ Authorization: 'Bearer not-a-token' }).expect(401);
      expect(admit).not.toHaveBeenCalled();
      await request(built.server).post('/chat').set(built.bearer('path-user')).expect(201);
      expect(admit).toHaveBeenCalledTimes(1);
      admit.mockRestore();
    });

    it('answers a preflight at the front door, after the timing, request id and log steps', async () => {
      const preflight = await request(built.server)
        .options('/chat')
        .set({ Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' })
        .expect(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(preflight.headers['x-request-id']).toBeDefined();
      expect(preflight.headers['x-response-time']).toMatch(/^\d+ms$/);
    });

    it('mounts through a seam per HTTP platform: Express and Fastify, no other', () => {
      expect(seamFor('express')?.type).toBe('express');
      expect(seamFor('fastify')?.type).toBe('fastify');
      expect(seamFor('koa')).toBeUndefined();
    });
  });
});
