// Prints one signed token for the demo and nothing else:
//   npm run -s token -- --sub alice --tier pro --scope "agent:tools" --expires-in 1h
// Plain JavaScript syntax only: Node runs this file directly, without a build.
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';

const DEV_JWT_SECRET = 'agent-security-demo-secret-do-not-use-in-production';

const { values } = parseArgs({
  options: {
    sub: { type: 'string', default: 'demo-user' },
    tier: { type: 'string' },
    // Space-separated, as the `scope` claim holds them (RFC 9068 §2.2.3).
    scope: { type: 'string' },
    'expires-in': { type: 'string', default: '1h' },
  },
});
const claims: { tier?: string; scope?: string } = {};
if (values.tier) claims.tier = values.tier;
if (values.scope) claims.scope = values.scope.trim().split(/\s+/).join(' ');
const expiresIn = /^\d+$/.test(values['expires-in']) ? Number(values['expires-in']) : values['expires-in'];
process.stdout.write(
  jwt.sign(claims, process.env.JWT_SECRET || DEV_JWT_SECRET, {
    algorithm: 'HS256',
    subject: values.sub,
    expiresIn: expiresIn as jwt.SignOptions['expiresIn'],
  }) + '\n',
);
