// Load (autocannon, programmatic) and the one-request sanity checks.
import { request as httpRequest } from 'node:http';
import autocannon from 'autocannon';
import { ORIGIN } from './common.mjs';

/** The request every row sends unless it names its own (`request` in run.mjs: the budgeted-chat rows). */
export const ME = { method: 'GET', path: '/me' };
/** A chat turn on a budgeted route: a small JSON body, as an agent client posts it. */
export const CHAT = { method: 'POST', path: '/agent/chat', body: JSON.stringify({ message: 'hello' }) };

function requestHeaders(request) {
  return request.body === undefined ? {} : { 'content-type': 'application/json' };
}

/**
 * One autocannon run against GET /me, for `duration` seconds or `amount` requests. Every request is built by
 * setupRequest with the next token of the pool (one shared counter across all connections), so consecutive requests
 * come from different callers.
 */
export async function runLoad(url, tokens, { connections, duration, amount, request = ME }) {
  const headers = tokens.map((token) => `Bearer ${token}`);
  let next = 0;
  const result = await autocannon({
    url,
    connections,
    // A number of requests instead of a duration, when given (bench/app-instructions.mjs).
    ...(amount === undefined ? { duration } : { amount }),
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: request.method,
        path: request.path,
        ...(request.body === undefined ? {} : { body: request.body }),
        headers: { origin: ORIGIN, accept: 'application/json', ...requestHeaders(request) },
        setupRequest(req) {
          req.headers.authorization = headers[next];
          next = next + 1 === headers.length ? 0 : next + 1;
          return req;
        },
      },
    ],
  });
  const seconds = result.duration || duration;
  return {
    rps: result.requests.total / seconds,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** One request; resolves { status, headers, body }. */
export function get(url, headers = {}, request = ME) {
  return getOne(url, headers, request);
}

function getOne(url, headers, request) {
  return new Promise((resolve, reject) => {
    const options = { method: request.method, headers: { origin: ORIGIN, ...requestHeaders(request), ...headers } };
    const req = httpRequest(`${url}${request.path}`, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('sanity request timed out')));
    req.end(request.body);
  });
}

/**
 * Checks a variant does its job before it is measured. `expect` says what it must do:
 * auth (401 without a token, the caller in the body with one), rateLimit (an X-RateLimit/RateLimit header),
 * cors (Access-Control-Allow-Origin for the request's Origin), requestId (an X-Request-ID header).
 * Returns a list of problems (empty when all is well).
 */
export async function sanityCheck(url, token, expect, request = ME) {
  const problems = [];
  const get = (url, headers) => getOne(url, headers, request);
  const ok = await get(url, { authorization: `Bearer ${token}` });
  if (ok.status !== 200) problems.push(`valid token: expected 200, got ${ok.status} ${ok.body.slice(0, 200)}`);
  let body;
  try {
    body = JSON.parse(ok.body);
  } catch {
    problems.push(`valid token: body is not JSON: ${ok.body.slice(0, 200)}`);
  }
  if (expect.auth && body && !/^user-\d+$/.test(body.userId))
    problems.push(`valid token: body names no caller: ${ok.body}`);
  if (expect.rateLimit && ok.headers['x-ratelimit-limit'] === undefined && ok.headers['ratelimit'] === undefined) {
    problems.push('no rate-limit header');
  }
  if (expect.cors && ok.headers['access-control-allow-origin'] !== ORIGIN)
    problems.push('no Access-Control-Allow-Origin');
  if (expect.requestId && ok.headers['x-request-id'] === undefined) problems.push('no X-Request-ID');
  const missing = await get(url);
  if (expect.auth) {
    if (missing.status !== 401) problems.push(`no token: expected 401, got ${missing.status}`);
    const forged = await get(url, { authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    if (forged.status !== 401) problems.push(`bad signature: expected 401, got ${forged.status}`);
  } else if (missing.status !== 200) {
    problems.push(`no token (no auth in this variant): expected 200, got ${missing.status}`);
  }
  return problems;
}
