import { connect, type Socket } from 'node:net';
import vault from 'node-vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startVaultDevServer, type TestVault, waitFor } from '../src/index.ts';

const started: TestVault[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

async function start(options?: Parameters<typeof startVaultDevServer>[0]): Promise<TestVault> {
  const server = await startVaultDevServer(options);
  started.push(server);
  return server;
}

async function status(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    const response = (error as { response?: { statusCode: number } }).response;
    if (response) return response.statusCode;
    return -1;
  }
}

/** A JSON array `depth` levels deep around a number. */
const nested = (depth: number): string => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
describe('startVaultDevServer', () => {
  it('listens on loopback with a random root token for every start', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.addr).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.token).toMatch(/^hvs\.[A-Za-z0-9]{24}$/);
    expect(a.token).not.toBe(b.token);
    expect(a.addr).not.toBe(b.addr);
  });

  it.each(['0.0.0.0', '192.168.1.10', '::1', 'localhost', '::'])('refuses to bind to %s', async (host) => {
    await expect(startVaultDevServer({ host })).rejects.toMatchObject({
      name: 'TestkitError',
      code: 'ERR_TESTKIT_NOT_LOOPBACK',
    });
  });

  it('binds to another address in 127.0.0.0/8', async () => {
    const server = await start({ host: '127.0.0.2' });
    expect(server.addr).toMatch(/^http:\/\/127\.0\.0\.2:/);
    const health = await vault({ endpoint: server.addr }).health();
    expect(health.sealed).toBe(false);
  });

  it('refuses to run when the environment says production', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    await expect(startVaultDevServer()).rejects.toMatchObject({ code: 'ERR_TESTKIT_PRODUCTION' });
  });

  it('keeps state per X-Vault-Namespace', async () => {
    const server = await start();
    const root = vault({ endpoint: server.addr, token: server.token });
    const team = vault({ endpoint: server.addr, token: server.token, namespace: 'team-a/' });
    await team.write('transit/keys/k', {});
    expect((await team.read('transit/keys/k')).data.name).toBe('k');
    expect(await status(root.read('transit/keys/k'))).toBe(404);
    expect(server.requests().filter((r) => r.namespace === 'team-a').length).toBe(2);
  });

  it('records requests without their bodies, counting batch items', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    await client.write('transit/keys/k', {});
    await client.write('transit/encrypt/k', { batch_input: [{ plaintext: 'AA==' }, { plaintext: 'AQ==' }] });
    const last = server.requests().at(-1);
    expect(last).toEqual({ method: 'POST', path: 'transit/encrypt/k', namespace: '', batchSize: 2, status: 200 });
    expect(JSON.stringify(server.requests())).not.toContain('AQ==');
    server.clearRequests();
    expect(server.requests()).toEqual([]);
  });

  it('answers 503 "Vault is sealed" while sealed, and sys/health says so', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    server.seal();
    expect(await status(client.read('transit/keys/k'))).toBe(503);
    expect((await client.health()).sealed).toBe(true);
    server.unseal();
    expect(await status(client.write('transit/keys/k', {}))).toBe(200);
  });

  it('injects faults for matching paths a given number of times', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    await client.write('transit/keys/k', {});
    server.injectFault({ status: 429, errors: ['standby'] }, { times: 2, pathPrefix: 'transit/datakey' });
    expect(await status(client.read('transit/keys/k'))).toBe(200);
    expect(await status(client.write('transit/datakey/plaintext/k', {}))).toBe(429);
    expect(await status(client.write('transit/datakey/plaintext/k', {}))).toBe(429);
    expect(await status(client.write('transit/datakey/plaintext/k', {}))).toBe(200);
    server.injectFault({ reset: true });
    expect(await status(client.read('transit/keys/k'))).toBe(-1);
  });

  it.each([
    ['a status above 599', { status: 1000 }, {}],
    ['a status below 100', { status: 99 }, {}],
    ['a status that is not an integer', { status: 500.5 }, {}],
    ['times: 0', { status: 503 }, { times: 0 }],
    ['negative times', { status: 503 }, { times: -1 }],
    ['fractional times', { status: 503 }, { times: 1.5 }],
    ['a negative delayMs', { delayMs: -1 }, {}],
    ['a fractional delayMs', { delayMs: 1.5 }, {}],
  ] as const)('refuses a fault with %s, and serves the next request normally', async (_what, fault, options) => {
    const server = await start();
    expect(() => server.injectFault(fault, options)).toThrow(
      expect.objectContaining({ name: 'TestkitError', code: 'ERR_TESTKIT_INVALID_OPTION' }),
    );
    const health = await fetch(`${server.addr}/v1/sys/health`);
    expect(health.status).toBe(200);
  });

  it('stops for good: a delayed request is dropped at stop(), and suspend/resume/injectFault then throw', async () => {
    const server = await start();
    const { port } = new URL(server.addr);
    // The first request to transit/keys/late meets the 30 s delay, the second the 418: once the
    // 418 is answered, the delayed request is known to be waiting.
    server.injectFault({ delayMs: 30_000 }, { pathPrefix: 'transit/keys/late' });
    server.injectFault({ status: 418 }, { pathPrefix: 'transit/keys/late' });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: Number(port) }, () => resolve(s));
      s.on('error', reject);
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      `POST /v1/transit/keys/late HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${server.token}\r\nContent-Length: 2\r\n\r\n{}`,
    );
    await waitFor(
      async () => {
        const teapot = await fetch(`${server.addr}/v1/transit/keys/late`, {
          headers: { 'X-Vault-Token': server.token },
        });
        return teapot.status === 418;
      },
      { timeoutMs: 5_000, what: 'the second request to meet the 418 fault' },
    );
    await server.stop();
    await closed;
    expect(server.requests().filter((r) => r.method === 'POST')).toEqual([
      { method: 'POST', path: 'transit/keys/late', namespace: '', batchSize: undefined, status: 0 },
    ]);
    for (const call of [() => server.resume(), () => server.suspend()]) {
      await expect(call()).rejects.toMatchObject({ name: 'TestkitError', code: 'ERR_TESTKIT_STOPPED' });
    }
    expect(() => server.injectFault({ status: 503 })).toThrow(expect.objectContaining({ code: 'ERR_TESTKIT_STOPPED' }));
    await server.stop(); // a second stop() is harmless
  });

  it('drops a request waiting out a delayMs at suspend(): never applied, recorded with status 0', async () => {
    const server = await start();
    const { port } = new URL(server.addr);
    // As above: once the 418 is answered, the delayed KV write is known to be waiting.
    server.injectFault({ delayMs: 2_000 }, { pathPrefix: 'secret/data/late' });
    server.injectFault({ status: 418 }, { pathPrefix: 'secret/data/late' });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: Number(port) }, () => resolve(s));
      s.on('error', reject);
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const body = JSON.stringify({ data: { written: 'late' } });
    socket.write(
      `POST /v1/secret/data/late HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${server.token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await waitFor(
      async () => {
        const teapot = await fetch(`${server.addr}/v1/secret/data/late`, {
          headers: { 'X-Vault-Token': server.token },
        });
        return teapot.status === 418;
      },
      { timeoutMs: 5_000, what: 'the second request to meet the 418 fault' },
    );
    await server.suspend();
    await closed;
    // Recorded once, either at suspend() (dropped) or after the delay (the defect: served anyway).
    await waitFor(() => server.requests().some((r) => r.method === 'POST'), {
      timeoutMs: 10_000,
      what: 'the delayed write to be recorded',
    });
    expect(server.requests().filter((r) => r.method === 'POST')).toEqual([
      { method: 'POST', path: 'secret/data/late', namespace: '', batchSize: undefined, status: 0 },
    ]);
    await server.resume();
    const client = vault({ endpoint: server.addr, token: server.token });
    expect(await status(client.read('secret/data/late'))).toBe(404);
  });

  it.each([204, 304])(
    'answers a batch with partial_failure_response_code %i with no body and no Content-Length',
    async (code) => {
      const server = await start();
      const client = vault({ endpoint: server.addr, token: server.token });
      await client.write('transit/keys/k', {});
      const good = await client.write('transit/encrypt/k', { plaintext: 'aGk=' });
      const body = JSON.stringify({
        partial_failure_response_code: code,
        batch_input: [{ ciphertext: good.data.ciphertext }, { ciphertext: `vault:v1:${'A'.repeat(40)}` }],
      });
      const socket = connect({ host: '127.0.0.1', port: Number(new URL(server.addr).port) });
      let raw = '';
      socket.on('data', (chunk: Buffer) => {
        raw += chunk.toString('latin1');
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(
        `POST /v1/transit/decrypt/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Vault-Token: ${server.token}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      await closed;
      const [head = '', rest] = raw.split('\r\n\r\n', 2);
      expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${code} `));
      expect(head.toLowerCase()).not.toContain('content-length');
      expect(rest).toBe('');
      expect(server.requests().at(-1)).toMatchObject({ path: 'transit/decrypt/k', status: code });
    },
  );

  it('suspends (connection refused) and resumes on the same port with its keys', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    await client.write('transit/keys/k', {});
    const { data } = await client.write('transit/encrypt/k', { plaintext: 'aGk=' });
    await server.suspend();
    await expect(client.read('transit/keys/k')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await server.resume();
    const back = await client.write('transit/decrypt/k', { ciphertext: data.ciphertext });
    expect(back.data.plaintext).toBe('aGk=');
  });

  it('answers unknown paths with 404 and bad JSON with 400, as Vault does', async () => {
    const server = await start();
    const headers = { 'X-Vault-Token': server.token };
    const unknown = await fetch(`${server.addr}/v1/nothing/here`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ errors: [expect.stringContaining('no handler for route')] });
    const bad = await fetch(`${server.addr}/v1/transit/encrypt/k`, { method: 'POST', headers, body: '{' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ errors: ['error parsing JSON'] });
  });

  it('parses a deeply nested body as JSON.parse does, on KV and transit paths alike', async () => {
    // Above Vault's default max_json_depth (500), as a listener configured higher takes.
    const server = await start({ maxJsonDepth: 10_000 });
    const headers = { 'X-Vault-Token': server.token };
    // Deeper than JSON.parse's reviver goes (about 2,300).
    const deep = `${'['.repeat(3_000)}1.0${']'.repeat(3_000)}`;
    const kv = await fetch(`${server.addr}/v1/secret/data/deep`, {
      method: 'POST',
      headers,
      body: `{"data":{"n\\u0041me":${deep}}}`,
    });
    expect(kv.status).toBe(200);
    await fetch(`${server.addr}/v1/transit/keys/k`, { method: 'POST', headers, body: '{}' });
    const plaintext = Buffer.from('ok').toString('base64');
    const encrypt = await fetch(`${server.addr}/v1/transit/encrypt/k`, {
      method: 'POST',
      headers,
      body: `{"batch_input":[{"plaintext":"${plaintext}","key_version":1}],"unused\\u0041":${deep}}`,
    });
    expect(encrypt.status).toBe(200);
    expect((await encrypt.json()).data.batch_results[0].ciphertext).toMatch(/^vault:v1:/);
  });

  it('answers a malformed 1 MiB body of escaped quotes with 400 at once (no rescan from every quote)', async () => {
    const server = await start();
    const headers = { 'X-Vault-Token': server.token };
    // An unterminated string of escaped quotes and no number: a scan that restarts at every quote
    // is quadratic here (64 KiB took 10 s; 1 MiB would take hours and outlive the test's timeout).
    const body = `{"x":"${'\\"'.repeat(512 * 1024)}`;
    const bad = await fetch(`${server.addr}/v1/transit/decrypt/k`, { method: 'POST', headers, body });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ errors: ['error parsing JSON'] });
  });

  it('answers a body over maxRequestBytes with 413 "error parsing JSON", as Vault does', async () => {
    const server = await start({ maxRequestBytes: 1024 });
    const headers = { 'X-Vault-Token': server.token };
    const body = JSON.stringify({ plaintext: 'A'.repeat(2048) });
    const big = await fetch(`${server.addr}/v1/transit/encrypt/k`, { method: 'POST', headers, body });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ errors: ['error parsing JSON'] });
  });

  it('refuses a body nested over max_json_depth (500, the outermost counting) with 500, before the token check', async () => {
    const server = await start();
    const headers = { 'X-Vault-Token': server.token };
    // The body, "data", then the arrays: 498 of them make 500 levels.
    const written = await fetch(`${server.addr}/v1/secret/data/deep`, {
      method: 'POST',
      headers,
      body: `{"data":{"x":${nested(498)}}}`,
    });
    expect(written.status).toBe(200);
    const read = await fetch(`${server.addr}/v1/secret/data/deep`, { headers });
    expect(await read.text()).toContain(`"data":{"x":${nested(498)}}`);
    const depthError = { errors: ['JSON input exceeds allowed nesting depth'] };
    for (const [body, init] of [
      [`{"data":{"x":${nested(499)}}}`, { headers }],
      [` \n${nested(501)}`, { headers }],
      [`{"data":{"x":${nested(499)}}}`, {}], // no token: the limits come first
    ] as const) {
      const tooDeep = await fetch(`${server.addr}/v1/secret/data/deeper`, { method: 'POST', body, ...init });
      expect(tooDeep.status).toBe(500);
      expect(await tooDeep.json()).toEqual(depthError);
    }
    // Brackets inside strings do not count, and a body that does not start with { or [ is not scanned.
    const inString = await fetch(`${server.addr}/v1/secret/data/s`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { x: '['.repeat(600) } }),
    });
    expect(inString.status).toBe(200);
    const notScanned = await fetch(`${server.addr}/v1/secret/data/s`, {
      method: 'POST',
      headers,
      body: `1${nested(600)}`,
    });
    expect(notScanned.status).toBe(400);
    expect(await notScanned.json()).toEqual({ errors: ['error parsing JSON'] });
  });

  it('takes maxJsonDepth like max_json_depth; above 10,000 Go’s decoder limit answers 400', async () => {
    await expect(startVaultDevServer({ maxJsonDepth: 0 })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_INVALID_OPTION',
    });
    const shallow = await start({ maxJsonDepth: 3 });
    const post = (server: { addr: string; token: string }, body: string) =>
      fetch(`${server.addr}/v1/secret/data/d`, { method: 'POST', headers: { 'X-Vault-Token': server.token }, body });
    expect((await post(shallow, '{"data":{"x":[1]}}')).status).toBe(200);
    expect((await post(shallow, '{"data":{"x":[[1]]}}')).status).toBe(500);
    const server = await start({ maxJsonDepth: 20_000 });
    const written = await post(server, `{"data":{"x":${nested(9_998)}}}`);
    expect(written.status).toBe(200);
    const read = await fetch(`${server.addr}/v1/secret/data/d`, { headers: { 'X-Vault-Token': server.token } });
    expect(await read.text()).toContain(`"data":{"x":${nested(9_998)}}`);
    const tooDeep = await post(server, `{"data":{"x":${nested(9_999)}}}`);
    expect(tooDeep.status).toBe(400);
    expect(await tooDeep.json()).toEqual({ errors: ['error parsing JSON'] });
  });

  it('refuses a string over maxJsonStringValueLength (UTF-8 bytes, keys too) with 500, before the token check', async () => {
    await expect(startVaultDevServer({ maxJsonDepth: 0, maxJsonStringValueLength: 1.5 })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_INVALID_OPTION',
      message: expect.stringMatching(/maxJsonDepth must be .*; maxJsonStringValueLength must be/),
    });
    const server = await start({ maxJsonStringValueLength: 8 });
    const post = (body: string, headers: Record<string, string> = { 'X-Vault-Token': server.token }) =>
      fetch(`${server.addr}/v1/secret/data/s`, { method: 'POST', headers, body });
    const lengthError = { errors: ['JSON string value exceeds allowed length'] };
    for (const ok of [
      '{"data":{"x":"aaaaaaaa"}}',
      '{"data":{"x":"éééé"}}',
      '{"data":{"x":"\\n\\n\\n\\n\\n\\n\\n\\n"}}',
    ]) {
      // The last decodes to 8 bytes (16 as written: a Vault revision counting raw bytes would refuse it).
      expect((await post(ok)).status, ok).toBe(200);
    }
    for (const [body, headers] of [
      ['{"data":{"x":"aaaaaaaaa"}}', undefined],
      ['{"data":{"x":"ééééé"}}', undefined], // 5 characters, 10 bytes
      ['{"data":{"x":"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"}}', undefined],
      ['{"data":{"kkkkkkkkk":1}}', undefined],
      ['[1,"aaaaaaaaa"]', undefined],
      ['{"data":{"x":"aaaaaaaaa"}}', {}], // no token: the limits come first
    ] as const) {
      const refused = await post(body, headers);
      expect(refused.status, body).toBe(500);
      expect(await refused.json()).toEqual(lengthError);
    }
    // A body that does not start with { or [ is not scanned; the first problem in the body is named.
    expect((await post('"aaaaaaaaa"')).status).toBe(400);
    const shallow = await start({ maxJsonDepth: 2, maxJsonStringValueLength: 8 });
    const both = await fetch(`${shallow.addr}/v1/secret/data/s`, {
      method: 'POST',
      body: '{"x":[[1]],"y":"aaaaaaaaa"}',
    });
    expect(await both.json()).toEqual({ errors: ['JSON input exceeds allowed nesting depth'] });
  });

  it('takes strings up to 1 MiB by default, as Vault’s max_json_string_value_length', async () => {
    const server = await start();
    const post = (length: number) =>
      fetch(`${server.addr}/v1/secret/data/s`, {
        method: 'POST',
        headers: { 'X-Vault-Token': server.token },
        body: `{"data":{"x":"${'a'.repeat(length)}"}}`,
      });
    expect((await post(1024 * 1024)).status).toBe(200);
    const refused = await post(1024 * 1024 + 1);
    expect(refused.status).toBe(500);
    expect(await refused.json()).toEqual({ errors: ['JSON string value exceeds allowed length'] });
  });

  it('never echoes any part of a body it cannot parse', async () => {
    const server = await start();
    const headers = { 'X-Vault-Token': server.token };
    // V8's message for an unexpected token quotes the body (all of a short one, a window of a long one).
    for (const body of [
      'S3cr3t',
      '{"plaintext": "aHVudGVyMg==", "token": hvs.S3cr3t}',
      '{"k":"S3cr3t"x}',
      '["S3cr3t"]',
    ]) {
      const bad = await fetch(`${server.addr}/v1/transit/encrypt/k`, { method: 'POST', headers, body });
      expect(bad.status).toBe(400);
      const text = await bad.text();
      expect(text).not.toContain('S3cr3t');
      expect(JSON.parse(text)).toEqual({ errors: ['error parsing JSON'] });
    }
  });

  it('answers 403 "permission denied" to a missing, wrong, shorter or longer token, and serves the right one', async () => {
    const server = await start();
    const url = `${server.addr}/v1/transit/keys/k`;
    // The last character replaced by one it is not (a random token ends in "x" now and then).
    const lastChanged = `${server.token.slice(0, -1)}${server.token.endsWith('x') ? 'y' : 'x'}`;
    const wrong = [
      {},
      { 'X-Vault-Token': '' },
      { 'X-Vault-Token': lastChanged },
      { 'X-Vault-Token': server.token.slice(0, -1) },
      { 'X-Vault-Token': `${server.token}x` },
      { Authorization: 'Bearer hvs.not-the-token' },
      // Vault reads the Authorization header only with the exact prefix "Bearer " (getTokenFromReq).
      { Authorization: `bearer ${server.token}` },
      { Authorization: `BEARER ${server.token}` },
      { Authorization: `Bearer\t${server.token}` },
    ];
    for (const headers of wrong) {
      const denied = await fetch(url, { method: 'POST', headers, body: '{}' });
      expect(denied.status).toBe(403);
      expect(await denied.json()).toEqual({ errors: ['permission denied'] });
    }
    for (const headers of [{ 'X-Vault-Token': server.token }, { Authorization: `Bearer ${server.token}` }]) {
      const allowed = await fetch(url, { method: 'POST', headers, body: '{}' });
      expect(allowed.status).toBeLessThan(300);
    }
  });

  it('serves requests pipelined on one connection one after the other, answering in order', async () => {
    const server = await start();
    const { port } = new URL(server.addr);
    const body = JSON.stringify({ plaintext: 'aGk=' });
    const pipelined =
      `POST /v1/transit/encrypt/k2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${server.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}` +
      `GET /v1/transit/keys/k2 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${server.token}\r\n` +
      'Connection: close\r\n\r\n';
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => socket.write(pipelined));
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        received += chunk;
      });
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    });
    expect([...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '200']);
    expect(raw.indexOf('"ciphertext"')).toBeLessThan(raw.indexOf('"keys"'));
  });

  it('refuses Vault paths it does not implement with a named 400, not 404', async () => {
    const server = await start();
    const headers = { 'X-Vault-Token': server.token };
    await fetch(`${server.addr}/v1/transit/keys/k`, { method: 'POST', headers, body: '{}' });
    for (const [method, path] of [
      ['GET', 'transit/export/encryption-key/k'],
      ['GET', 'transit/backup/k'],
      ['POST', 'transit/restore'],
      ['POST', 'transit/hmac/k'],
      ['POST', 'transit/sign/k'],
      ['POST', 'transit/random/32'],
      ['POST', 'transit/keys/k/trim'],
      ['GET', 'sys/policies/acl/default'],
      ['POST', 'auth/approle/login'],
    ] as const) {
      const response = await fetch(`${server.addr}/v1/${path}`, {
        method,
        headers,
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expect(response.status, path).toBe(400);
      expect((await response.json()).errors[0], path).toMatch(/is not implemented by the rampart Vault dev server/);
    }
    // Paths Vault itself does not know stay 404.
    for (const path of ['transit/nothing/k', 'sys/nothing', 'transit/keys/k/nothing']) {
      const response = await fetch(`${server.addr}/v1/${path}`, { headers });
      expect(response.status, path).toBe(404);
    }
  });

  it('serves Vault’s LIST method and GET ?list=true alike', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    await client.write('transit/keys/b', {});
    await client.write('transit/keys/a', {});
    expect((await client.list('transit/keys')).data.keys).toEqual(['a', 'b']);
    expect(server.requests().at(-1)?.method).toBe('LIST');
    const viaGet = vault({ endpoint: server.addr, token: server.token, noCustomHTTPVerbs: true });
    expect((await viaGet.list('transit/keys')).data.keys).toEqual(['a', 'b']);
  });

  it('warns about parameters an endpoint does not know', async () => {
    const server = await start();
    const client = vault({ endpoint: server.addr, token: server.token });
    await client.write('transit/keys/k', {});
    const answer = await client.write('transit/datakey/plaintext/k', { associated_data: 'AA==' });
    expect(answer.warnings).toEqual(['Endpoint ignored these unrecognized parameters: [associated_data]']);
  });
});
