import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { calculateJwkThumbprint, EmbeddedJWK, generateKeyPair, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticJwks } from './key-source.ts';
import { memoryReplayStore } from './replay-store.ts';
import { createTokenProvider } from './token-provider.ts';
import { createBearerVerifier } from './verifier.ts';

let issuer: TestIssuer;
let server: Server;
let url: string;
let answerPlainBearer = false;
const proofs: { nonce: unknown; htm: unknown; htu: unknown; jwk: JWK }[] = [];

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
  server = createServer(async (req, res) => {
    for await (const _ of req) {
      // drain the form body
    }
    const proof = req.headers.dpop as string;
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    proofs.push({ nonce: payload.nonce, htm: payload.htm, htu: payload.htu, jwk: protectedHeader.jwk as JWK });
    res.setHeader('content-type', 'application/json');
    res.setHeader('dpop-nonce', 'server-nonce-1');
    if (payload.nonce !== 'server-nonce-1') {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: 'use_dpop_nonce' }));
      return;
    }
    const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256');
    const token = await issuer.mint({ claims: { cnf: { jkt } } });
    res.end(
      JSON.stringify({ access_token: token, token_type: answerPlainBearer ? 'Bearer' : 'DPoP', expires_in: 300 }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await issuer?.close();
});

describe('createTokenProvider with dpop', () => {
  it('obtains a DPoP-bound token (retrying once with the server nonce) that a DPoP verifier accepts', async () => {
    const keys = { ...(await generateKeyPair('ES256')), algorithm: 'ES256' };
    const provider = createTokenProvider({
      tokenEndpoint: url,
      clientId: 'c',
      authentication: { method: 'client_secret_basic', clientSecret: ['s', 'ecret'].join('') },
      dpop: keys,
    });
    const headers = await provider.getRequestHeaders({ method: 'post', url: 'https://api.test/orders?x=1' });
    expect(proofs.map((p) => p.nonce)).toEqual([undefined, 'server-nonce-1']);
    expect(proofs[1]).toMatchObject({ htm: 'POST', htu: url });
    expect(Object.keys(proofs[1]?.jwk ?? {}).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(headers.authorization).toMatch(/^DPoP /);
    expect(await provider.getAuthorizationHeader()).toBe(headers.authorization);

    const verifier = createBearerVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['ES256'],
      keys: staticJwks(issuer.jwks()),
      dpop: { publicOrigins: ['https://api.test'], replayStore: memoryReplayStore() },
    });
    const result = await verifier.authenticate({
      method: 'POST',
      authorization: [headers.authorization as string],
      url: '/orders?x=1',
      header: (name) => (name === 'dpop' ? headers.dpop : undefined),
    });
    expect(result.binding?.type).toBe('dpop');
  });

  it('retries each concurrent request once with the server nonce', async () => {
    const provider = createTokenProvider({
      tokenEndpoint: url,
      clientId: 'c',
      authentication: { method: 'client_secret_basic', clientSecret: ['s', 'ecret'].join('') },
      dpop: { ...(await generateKeyPair('ES256')), algorithm: 'ES256' },
      maxRetries: 0,
    });
    const tokens = await Promise.all(
      ['https://a.test', 'https://b.test', 'https://c.test'].map((audience) => provider.getToken({ audience })),
    );
    expect(tokens.every((token) => typeof token === 'string' && token.length > 0)).toBe(true);
  });

  it('refuses a token the server did not bind (token_type Bearer)', async () => {
    answerPlainBearer = true;
    try {
      const provider = createTokenProvider({
        tokenEndpoint: url,
        clientId: 'c',
        authentication: { method: 'client_secret_basic', clientSecret: ['s', 'ecret'].join('') },
        dpop: { ...(await generateKeyPair('EdDSA')), algorithm: 'EdDSA' },
        maxRetries: 0,
      });
      await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT' });
    } finally {
      answerPlainBearer = false;
    }
  });
});
