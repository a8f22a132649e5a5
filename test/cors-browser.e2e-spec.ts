import type { INestApplication } from '@nestjs/common';
import { existsSync, readFileSync } from 'fs';
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';
import { join } from 'path';
import { chromium, type Browser } from 'playwright-core';
import { StandInModel } from '../src/agent/stand-in-model';
import { signToken, startDemo } from './support/demo-app';
import { startRedis, type RedisProcess } from './support/redis-server';
import { onEachPlatform } from './support/platform';

// Debian's chromium (installed by npm test's pretest step, scripts/test-deps.sh); Playwright never downloads a browser here.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** A real page server on its own loopback port: its origin is what the browser sends. */
function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_request, response) => {
    response.setHeader('Content-Type', 'text/html');
    response.end('<!doctype html><title>agent front end</title>');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

/**
 * The browser streaming code of README.md, exactly as a reader copies it: the ```js block after its marker. The test
 * runs this text, so the README cannot show a snippet that does not work.
 */
function readmeSnippet(name: string, readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8')): string {
  const marker = `<!-- readme-snippet: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at === -1) throw new Error(`README.md has no ${marker}`);
  const rest = readme.slice(at + marker.length);
  const block = /^```js\n([\s\S]*?)^```$/m.exec(rest);
  if (block === null || rest.slice(0, block.index).trim() !== '')
    throw new Error(`README.md has no \`\`\`js block right after ${marker}`);
  return block[1];
}

interface FetchResult {
  ok: boolean;
  status?: number;
  body?: unknown;
  requestId?: string | null;
  remaining?: string | null;
  error?: string;
}

onEachPlatform(() => {
  describe('CORS in a real browser (headless Chromium)', () => {
    let redis: RedisProcess;
    let app: INestApplication;
    let api: string;
    let browser: Browser;
    let allowed: { server: Server; origin: string };
    let refused: { server: Server; origin: string };

    beforeAll(async () => {
      if (!existsSync(CHROMIUM))
        throw new Error(
          `No Chromium at ${CHROMIUM}: install Debian's chromium (npm test's pretest step does) or set CHROMIUM_PATH`,
        );
      allowed = await pageServer();
      refused = await pageServer();
      redis = await startRedis();
      app = await startDemo(
        {},
        {
          REDIS_URL: redis.url,
          CORS_ORIGINS: allowed.origin,
          AGENT_SECURITY_TIERS: JSON.stringify({ free: { limit: 5, windowMs: 60_000 } }),
          STREAM_TOKEN_DELAY_MS: '2',
        },
      );
      await app.listen(0, '127.0.0.1');
      api = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await app?.close();
      await redis?.stop();
      allowed?.server.close();
      refused?.server.close();
    });

    const consoleErrors: string[] = [];

    async function fetchFrom(origin: string, token: string): Promise<FetchResult> {
      const page = await browser.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      try {
        await page.goto(`${origin}/`);
        return await page.evaluate(
          async ({ url, token }) => {
            try {
              const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
              return {
                ok: true,
                status: response.status,
                body: await response.json(),
                requestId: response.headers.get('X-Request-ID'),
                remaining: response.headers.get('X-RateLimit-Remaining'),
              };
            } catch (error) {
              return { ok: false, error: String(error) };
            }
          },
          { url: `${api}/me`, token },
        );
      } finally {
        await page.close();
      }
    }

    it('lets a page from an allowed origin call the API with a Bearer token and read the exposed headers', async () => {
      const result = await fetchFrom(allowed.origin, signToken({ sub: 'browser-user', tier: 'free' }));
      expect(result).toMatchObject({ ok: true, status: 200, body: { userId: 'browser-user', tier: 'free' } });
      expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(result.remaining).toBe('4');
    }, 30_000);

    it('makes the same fetch fail for a page from an origin that is not allowed', async () => {
      const result = await fetchFrom(refused.origin, signToken({ sub: 'browser-user-2' }));
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(/Failed to fetch/);
      // Refused by the browser's CORS check, not by a network failure.
      expect(consoleErrors.join('\n')).toMatch(/blocked by CORS policy.*No 'Access-Control-Allow-Origin' header/s);
    }, 30_000);

    it("renders every token of a streamed reply with the README's browser code", async () => {
      const message = 'tell me about rate limits and budgets for agents';
      const expected = [...new StandInModel().tokens(message)];
      const page = await browser.newPage();
      try {
        await page.goto(`${allowed.origin}/`);
        // A classic script, as a page would include it: its function declaration becomes window.streamReply.
        await page.addScriptTag({ content: readmeSnippet('browser-stream') });
        const rendered = await page.evaluate(
          async ({ url, token, message }) => {
            const pageGlobals = globalThis as unknown as {
              streamReply: (
                api: string,
                token: string,
                message: string,
                render: (text: string) => void,
              ) => Promise<void>;
            };
            const tokens: string[] = [];
            await pageGlobals.streamReply(url, token, message, (text) => tokens.push(text));
            return tokens;
          },
          { url: api, token: signToken({ sub: 'browser-streamer', tier: 'pro' }), message },
        );
        expect(rendered).toEqual(expected);
        expect(expected.length).toBeGreaterThan(5);
      } finally {
        await page.close();
      }
    }, 30_000);
  });
});
