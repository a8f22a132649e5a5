/** A public signing key as a JWKS publishes it (RFC 7517). */
export interface PublicJwk {
  readonly kty: string;
  readonly kid?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly crv?: string;
  readonly key_ops?: readonly string[];
  readonly [member: string]: unknown;
}

/** Private members: a JWKS that carries any is broken, and its key is not used. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv'];

/**
 * The verification keys of a JWKS document: signing keys of an asymmetric type only (an `oct` key would make a
 * published secret usable as an HMAC key), frozen because the verifier's key import caches by object.
 */
export function signingKeys(document: unknown): PublicJwk[] {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the JWKS has no "keys" list');
  const usable: PublicJwk[] = [];
  for (const key of keys) {
    if (typeof key !== 'object' || key === null) continue;
    const jwk = key as PublicJwk;
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) continue;
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) continue;
    if (jwk.kid !== undefined && typeof jwk.kid !== 'string') continue;
    usable.push(Object.freeze({ ...jwk }));
  }
  return usable;
}

/** Whether a key of this type can verify `alg`: the token's header never chooses the kind of key. */
function fits(key: PublicJwk, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return key.kty === 'RSA';
    case 'ES256':
      return key.kty === 'EC' && key.crv === 'P-256';
    case 'ES384':
      return key.kty === 'EC' && key.crv === 'P-384';
    case 'ES512':
      return key.kty === 'EC' && key.crv === 'P-521';
    case 'EdDSA':
      return key.kty === 'OKP' && (key.crv === 'Ed25519' || key.crv === 'Ed448');
    default:
      return false;
  }
}

/**
 * The key a token names: by `kid` and fitting its `alg`. A token without `kid` is verified only when exactly one
 * key fits; with several, which one signed it would be a guess.
 */
export function selectKey(keys: readonly PublicJwk[], kid: string | undefined, alg: string): PublicJwk | undefined {
  let found: PublicJwk | undefined;
  for (const key of keys) {
    if (kid !== undefined && key.kid !== kid) continue;
    if (!fits(key, alg)) continue;
    if (kid !== undefined) return key;
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}
