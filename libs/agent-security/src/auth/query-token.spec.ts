import { redactQueryToken } from './query-token.js';

describe('redactQueryToken', () => {
  it('redacts every spelling of the name and leaves other parameters alone', () => {
    expect(redactQueryToken('/a?x=1&ACCESS%5Ftoken=t1;access_token[]=t2&q=%C3%A9')).toBe(
      '/a?x=1&ACCESS%5Ftoken=[REDACTED];access_token[]=[REDACTED]&q=%C3%A9',
    );
    expect(redactQueryToken('/a?page_token=p&accessible=1')).toBe('/a?page_token=p&accessible=1');
    expect(redactQueryToken('/a/access_token')).toBe('/a/access_token');
  });

  it('takes time in proportion to the URL on ones crafted to make a pattern backtrack', () => {
    // Node's default header limit keeps a URL under 16 KB; a scan that is quadratic in it holds the event loop for
    // tens of milliseconds per request, for every request that comes.
    const half = 8_000;
    const urls = [
      `/a?${';'.repeat(2 * half)}`,
      `/a?${'!'.repeat(half)}x${'!'.repeat(half)}x=1&access=1`,
      `/a?${'%41'.repeat((2 * half) / 3)}`,
      `/a?${'access;'.repeat((2 * half) / 7)}`,
    ];
    for (const url of urls) {
      const start = performance.now();
      redactQueryToken(url);
      expect(performance.now() - start).toBeLessThan(20);
    }
  });
});
