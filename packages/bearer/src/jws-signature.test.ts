import {
  constants,
  generateKeyPair as generateNodeKeyPair,
  generateKeyPairSync as generateNodeKeyPairSync,
  sign,
} from 'node:crypto';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { CompactSign, compactVerify, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { ecdsaSignatureToDer, isKeyForAlgorithm, verifyJwsSignature } from './jws-signature.ts';

const subtle = globalThis.crypto.subtle;
const bytes = (value: string) => Buffer.from(value, 'latin1') as Uint8Array<ArrayBuffer>;

/** A node RSA key pair, its public half imported into WebCrypto for `name` with SHA-256. */
async function rsaKeys(modulusLength: number, name: 'RSASSA-PKCS1-v1_5' | 'RSA-PSS') {
  const { privateKey, publicKey } = await promisify(generateNodeKeyPair)('rsa', { modulusLength });
  const jwk = publicKey.export({ format: 'jwk' });
  const key = await subtle.importKey('jwk', jwk, { name, hash: 'SHA-256' }, true, ['verify']);
  return { privateKey, key };
}

describe('isKeyForAlgorithm', () => {
  it('accepts only a public key imported for exactly that algorithm', async () => {
    const rs = await generateKeyPair('RS256');
    const ps = await generateKeyPair('PS256');
    const es256 = await generateKeyPair('ES256');
    const es384 = await generateKeyPair('ES384');
    const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const hmac = await subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    expect(isKeyForAlgorithm(rs.publicKey, 'RS256')).toBe(true);
    expect(isKeyForAlgorithm(rs.publicKey, 'RS384')).toBe(false);
    expect(isKeyForAlgorithm(rs.publicKey, 'PS256')).toBe(false);
    expect(isKeyForAlgorithm(ps.publicKey, 'RS256')).toBe(false);
    expect(isKeyForAlgorithm(es256.publicKey, 'ES256')).toBe(true);
    expect(isKeyForAlgorithm(es384.publicKey, 'ES256')).toBe(false);
    expect(isKeyForAlgorithm(ed.publicKey, 'EdDSA')).toBe(true);
    expect(isKeyForAlgorithm(ed.publicKey, 'Ed25519')).toBe(true);
    expect(isKeyForAlgorithm(rs.privateKey, 'RS256')).toBe(false);
    expect(isKeyForAlgorithm(hmac, 'HS256')).toBe(false);
    expect(isKeyForAlgorithm(hmac, 'RS256')).toBe(false);
    expect(isKeyForAlgorithm('secret', 'RS256')).toBe(false);
    expect(isKeyForAlgorithm(rs.publicKey, 'none')).toBe(false);
    expect(isKeyForAlgorithm(rs.publicKey, '__proto__')).toBe(false);
  });

  it('refuses RSA keys under 2048 bits', async () => {
    const { key } = await rsaKeys(1024, 'RSASSA-PKCS1-v1_5');
    expect(isKeyForAlgorithm(key, 'RS256')).toBe(false);
  });
});

describe('verifyJwsSignature', () => {
  for (const [alg, inline] of ['RS256', 'RS512', 'PS256', 'PS384', 'ES256', 'ES384', 'ES512', 'EdDSA'].flatMap((a) =>
    [false, true].map((i) => [a, i] as const),
  )) {
    it(`agrees with jose.compactVerify for ${alg} on valid and mutated signatures (${inline ? 'inline' : 'WebCrypto'})`, async () => {
      const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
      const jws = await new CompactSign(Buffer.from('{"iss":"x"}')).setProtectedHeader({ alg }).sign(privateKey);
      const [h, p, s] = jws.split('.') as [string, string, string];
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), async (index, flip, mutate) => {
          const signature = Buffer.from(s, 'base64url');
          if (mutate) {
            const at = index % signature.length;
            signature[at] = (signature[at] as number) ^ (flip || 1);
          }
          const ours = await verifyJwsSignature(
            alg,
            publicKey,
            bytes(`${h}.${p}`),
            signature as Uint8Array<ArrayBuffer>,
            inline,
          );
          const theirs = await compactVerify(`${h}.${p}.${signature.toString('base64url')}`, publicKey, {
            algorithms: [alg],
          }).then(
            () => true,
            () => false,
          );
          expect(ours).toBe(theirs);
          expect(ours).toBe(!mutate);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('returns false instead of throwing for a signature of the wrong length, on both paths', async () => {
    for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA'] as const) {
      const { publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
      for (const inline of [false, true]) {
        for (const length of [0, 10, 63, 65, 600]) {
          expect(await verifyJwsSignature(alg, publicKey, bytes('a.b'), new Uint8Array(length), inline)).toBe(false);
        }
      }
    }
  });

  it('verifies with a non-extractable key on WebCrypto, without node deprecation warnings', async () => {
    const warnings: unknown[] = [];
    const onWarning = (warning: unknown) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
        const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
        const spki = await subtle.exportKey('spki', publicKey);
        const algorithm = publicKey.algorithm as RsaHashedImportParams | EcKeyImportParams;
        const locked = await subtle.importKey('spki', spki, algorithm, false, ['verify']);
        expect(locked.extractable).toBe(false);
        const jws = await new CompactSign(Buffer.from('{}')).setProtectedHeader({ alg }).sign(privateKey);
        const [h, p, s] = jws.split('.') as [string, string, string];
        const signature = Buffer.from(s, 'base64url') as Uint8Array<ArrayBuffer>;
        expect(await verifyJwsSignature(alg, locked, bytes(`${h}.${p}`), signature, true)).toBe(true);
        signature[0] = (signature[0] as number) ^ 1;
        expect(await verifyJwsSignature(alg, locked, bytes(`${h}.${p}`), signature, true)).toBe(false);
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('writes ECDSA signatures as the minimal DER that OpenSSL writes', () => {
    for (const [curve, size] of [
      ['P-256', 32],
      ['P-384', 48],
      ['P-521', 66],
    ] as const) {
      const { privateKey } = generateNodeKeyPairSync('ec', { namedCurve: curve });
      for (let i = 0; i < 300; i++) {
        const der = sign('sha256', Buffer.from(`m${i}`), privateKey);
        expect(Buffer.from(ecdsaSignatureToDer(derToP1363(der, size), size) as Uint8Array)).toEqual(der);
      }
    }
    expect(ecdsaSignatureToDer(new Uint8Array(63), 32)).toBeUndefined();
    expect(ecdsaSignatureToDer(new Uint8Array(65), 32)).toBeUndefined();
  });

  it('checks the key against the algorithm before either path', async () => {
    const rs = await generateKeyPair('RS256');
    const ps = await generateKeyPair('PS256');
    const jws = await new CompactSign(Buffer.from('{}')).setProtectedHeader({ alg: 'PS256' }).sign(ps.privateKey);
    const [h, p, s] = jws.split('.') as [string, string, string];
    const signature = Buffer.from(s, 'base64url') as Uint8Array<ArrayBuffer>;
    for (const inline of [false, true]) {
      expect(await verifyJwsSignature('PS256', ps.publicKey, bytes(`${h}.${p}`), signature, inline)).toBe(true);
      // The same RSA modulus would verify PKCS#1 v1.5 signatures, but a key imported for RS256
      // is never used for PS256, nor a PS256 key for RS256.
      expect(await verifyJwsSignature('RS256', ps.publicKey, bytes(`${h}.${p}`), signature, inline)).toBe(false);
      expect(await verifyJwsSignature('PS256', rs.publicKey, bytes(`${h}.${p}`), signature, inline)).toBe(false);
    }
  });

  it('refuses a PS256 signature made with another salt length, inline as in WebCrypto', async () => {
    const { privateKey, key } = await rsaKeys(2048, 'RSA-PSS');
    const input = bytes('eyJhbGciOiJQUzI1NiJ9.e30');
    for (const saltLength of [0, 20, 32, 64]) {
      const signature = sign('sha256', input, {
        key: privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength,
      }) as Uint8Array<ArrayBuffer>;
      const webCrypto = await verifyJwsSignature('PS256', key, input, signature, false);
      expect(await verifyJwsSignature('PS256', key, input, signature, true)).toBe(webCrypto);
      expect(webCrypto).toBe(saltLength === 32);
    }
  });
});

/** Test-side reading of a DER ECDSA signature into R ‖ S, each `size` bytes. */
function derToP1363(der: Buffer, size: number): Uint8Array {
  let at = der[1] === 0x81 ? 3 : 2;
  const out = new Uint8Array(2 * size);
  for (let part = 0; part < 2; part++) {
    const length = der[at + 1] as number;
    const value = der.subarray(at + 2, at + 2 + length);
    const trimmed = value[0] === 0 && value.length > 1 ? value.subarray(1) : value;
    out.set(trimmed, part * size + size - trimmed.length);
    at += 2 + length;
  }
  return out;
}
