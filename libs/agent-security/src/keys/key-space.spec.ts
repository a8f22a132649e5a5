import { readdirSync, readFileSync, statSync } from 'fs';
import { join, relative } from 'path';
import { isAnonymousKey, KeySpace, overflowKeyOf } from './key-space';

describe('The key space', () => {
  const keys = new KeySpace('rl');

  it("puts every key of one caller in the caller's hash tag", () => {
    expect(keys.user('alice')).toBe('rl:{user:alice}');
    expect(keys.tokens('alice')).toBe('rl:{user:alice}:tokens');
    expect(keys.streams('alice')).toBe('rl:{user:alice}:streams');
    expect(keys.anonymous('192.0.2.7')).toBe('rl:{ip:192.0.2.7}');
    expect(overflowKeyOf(keys.anonymous('192.0.2.7'), () => '192.0.2.0/24')).toBe('rl:{ip:overflow:192.0.2.0/24}');
  });

  it('tells anonymous keys by their tag, whatever the subject says', () => {
    expect(isAnonymousKey(keys.anonymous('::1'))).toBe(true);
    expect(isAnonymousKey(keys.user('ip:{x}'))).toBe(false);
  });

  it('is the only source file that writes the tags', () => {
    const root = join(__dirname, '..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (
          path.endsWith('.ts') &&
          !path.endsWith('.spec.ts') &&
          !path.endsWith('.contract.ts') &&
          !path.endsWith('key-space.ts')
        ) {
          if (/\{(user|ip):/.test(readFileSync(path, 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')))
            offenders.push(relative(root, path));
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
