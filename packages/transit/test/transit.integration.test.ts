import { inspect } from 'node:util';
import vault from 'node-vault';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataKey } from '../src/data-key.ts';
import { createTransit, TransitError, type TransitMetric } from '../src/index.ts';
import { closedAfterEachTest, type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

// Every test works on transit keys of its own and counts only the requests for them, and every
// Transit it opens is closed after it: a test that failed or timed out with calls still pending
// makes no Vault call after it, and none of its calls counts in a later test.
const { open, tracked } = closedAfterEachTest(() => fx);

/** The requests (since the last `clearRequests()`) for transit key `key`, whatever the operation. */
function requestsFor(key: string): ReturnType<Fixture['server']['requests']> {
  return fx.server.requests().filter((r) => r.path.split('/').at(-1) === key);
}

/** How many requests (since the last `clearRequests()`) went to exactly `path`. */
function callsTo(path: string): number {
  return fx.server.requests().filter((r) => r.path === path).length;
}

const ctx = { tenant: 't1', table: 'users', column: 'ssn', id: 42 };

describe('Transit.encrypt / decrypt', () => {
  it('round-trips buffers and strings', async () => {
    const transit = open(await fx.newKey());
    const envelope = await transit.encrypt(Buffer.from('123-45-6789'), ctx);
    expect((await transit.decrypt(envelope, ctx)).toString()).toBe('123-45-6789');
    const text = await transit.encryptString('ünïcödé ✓', ctx);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await transit.decryptString(text, ctx)).toBe('ünïcödé ✓');
    const empty = await transit.encrypt(Buffer.alloc(0), ctx);
    expect(await transit.decrypt(empty, ctx)).toEqual(Buffer.alloc(0));
  });

  it('decryptString refuses a non-canonical spelling of the text encryptString returned, before calling Vault', async () => {
    const key = await fx.newKey();
    const transit = open(key);
    const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const variants: string[] = [];
    // Three plaintext lengths give the three envelope lengths mod 3: the last character has 4, 2
    // or no unused low bits, and with none a further character would be dropped by a lax decoder.
    for (const plaintext of ['a', 'ab', 'abc']) {
      const text = await transit.encryptString(plaintext, ctx);
      expect(await transit.decryptString(text, ctx)).toBe(plaintext);
      const last = BASE64URL.indexOf(text.at(-1) ?? '');
      if (text.length % 4 === 0) {
        variants.push(`${text}A`, `${text}_`);
      } else {
        variants.push(`${text.slice(0, -1)}${BASE64URL[last ^ 1]}`);
      }
      variants.push(`${text}=`, `${text}==`);
    }
    variants.push('');
    // A cold cache: a check made only after the unwrap would show up as requests.
    transit.clearCaches();
    fx.server.clearRequests();
    for (const variant of variants) {
      const failure = await transit.decryptString(variant, ctx).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(TransitError);
      expect(failure).toMatchObject({ code: 'ERR_TRANSIT_MALFORMED_ENVELOPE', retryable: false });
      const { message } = failure as TransitError;
      expect(message).toContain('encryptString');
      if (variant.length > 0) {
        expect(message).not.toContain(variant.slice(0, 8));
        expect(message).not.toContain(variant.slice(-8));
      }
    }
    expect(requestsFor(key)).toEqual([]);
  });

  it('refuses a plaintext that is not bytes', async () => {
    const transit = open(await fx.newKey());
    await expect(transit.encrypt('text' as never, ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_INVALID_INPUT' });
    await expect(transit.encryptString(42 as never, ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_INVALID_INPUT' });
  });

  it('refuses text with a lone surrogate, which UTF-8 cannot carry (it would come back as U+FFFD)', async () => {
    const key = await fx.newKey();
    const transit = open(key);
    fx.server.clearRequests();
    for (const text of ['id-\ud800', '\udc00secret', 'a\udfffb\ud800']) {
      const failure = await transit.encryptString(text, ctx).catch((e: unknown) => e);
      expect(failure).toMatchObject({
        code: 'ERR_TRANSIT_INVALID_INPUT',
        message: expect.stringContaining('surrogate'),
      });
      expect((failure as Error).message).not.toMatch(/id-|secret/);
    }
    expect(requestsFor(key)).toEqual([]);
    expect(await transit.decryptString(await transit.encryptString('id-\ud83d\ude00', ctx), ctx)).toBe(
      'id-\ud83d\ude00',
    );
  });

  it('refuses an invalid context before calling Vault', async () => {
    const key = await fx.newKey();
    const transit = open(key);
    fx.server.clearRequests();
    await expect(transit.encrypt(Buffer.from('x'), {})).rejects.toMatchObject({ code: 'ERR_TRANSIT_INVALID_CONTEXT' });
    await expect(transit.encrypt(Buffer.from('x'), null as never)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INVALID_CONTEXT',
    });
    expect(requestsFor(key)).toEqual([]);
  });

  it('adds at most 128 bytes to a record (default mount, key name up to 10 characters)', async () => {
    const transit = open(await fx.newKey()); // names like "k12"
    const plaintext = Buffer.alloc(1024, 1);
    const envelope = await transit.encrypt(plaintext, ctx);
    const name = transit.inspect(envelope).key;
    expect(envelope.length - plaintext.length).toBe(118 + name.length);
    expect(envelope.length - plaintext.length).toBeLessThanOrEqual(128);
  });

  it('describes itself: mount, key and key version are readable without decrypting', async () => {
    const key = await fx.newKey();
    const envelope = await open(key).encrypt(Buffer.from('x'), ctx);
    expect(open(key).inspect(envelope)).toEqual({
      mount: 'transit',
      key,
      keyVersion: 1,
      tenantBound: false,
      stream: false,
      formatVersion: 1,
    });
  });

  it('fails closed when the context differs in any entry, or has one more or one less', async () => {
    const transit = open(await fx.newKey());
    const envelope = await transit.encrypt(Buffer.from('secret'), ctx);
    const variants = [
      { ...ctx, id: 43 },
      { ...ctx, tenant: 't2' },
      { ...ctx, column: 'email' },
      { ...ctx, extra: 'x' },
      { tenant: 't1', table: 'users', column: 'ssn' },
    ];
    for (const other of variants) {
      await expect(transit.decrypt(envelope, other)).rejects.toMatchObject({
        code: 'ERR_TRANSIT_INTEGRITY',
        retryable: false,
      });
    }
  });

  it('refuses a ciphertext swapped into another row', async () => {
    const transit = open(await fx.newKey());
    const alice = await transit.encrypt(Buffer.from('alice-ssn'), { ...ctx, id: 1 });
    await expect(transit.decrypt(alice, { ...ctx, id: 2 })).rejects.toMatchObject({ code: 'ERR_TRANSIT_INTEGRITY' });
  });

  it('checks the key commitment before decrypting', async () => {
    const transit = open(await fx.newKey());
    const envelope = await transit.encrypt(Buffer.from('secret'), ctx);
    const head = transit.inspect(envelope);
    const commitmentAt = envelope.length - 'secret'.length - 16 - 32;
    const tampered = Buffer.from(envelope);
    tampered[commitmentAt] = (tampered[commitmentAt] ?? 0) ^ 0x80;
    await expect(transit.decrypt(tampered, ctx)).rejects.toThrow(/key commitment/);
    expect(head.keyVersion).toBe(1);
  });

  it('refuses an envelope whose wrapped DEK was swapped for another valid one (commitment)', async () => {
    const key = await fx.newKey();
    const a = open(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
    const first = await a.encrypt(Buffer.from('one'), ctx);
    const second = await a.encrypt(Buffer.from('two'), ctx);
    // Same layout: header, version, wrapped DEK (60 bytes) at the same offsets.
    const wrappedAt = 3 + 1 + 1 + key.length + 1;
    const spliced = Buffer.concat([
      first.subarray(0, wrappedAt),
      second.subarray(wrappedAt, wrappedAt + 60),
      first.subarray(wrappedAt + 60),
    ]);
    await expect(open(key).decrypt(spliced, ctx)).rejects.toThrow(/key commitment/);
  });

  it('refuses envelopes of transit keys it was not told to accept', async () => {
    const [k1, k2] = [await fx.newKey(), await fx.newKey()];
    const envelope = await open(k1).encrypt(Buffer.from('x'), ctx);
    await expect(open(k2).decrypt(envelope, ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_KEY_NOT_ACCEPTED' });
    expect((await open(k2, { acceptKeys: [{ key: k1 }] }).decrypt(envelope, ctx)).toString()).toBe('x');
  });

  it('works on another mount and in a namespace', async () => {
    await fx.client.write('sys/mounts/pii', { type: 'transit' });
    await fx.client.write('pii/keys/orders', {});
    const transit = open('orders', { mount: 'pii' });
    const envelope = await transit.encrypt(Buffer.from('x'), ctx);
    expect(transit.inspect(envelope).mount).toBe('pii');
    expect((await transit.decrypt(envelope, ctx)).toString()).toBe('x');

    const team = (await import('node-vault')).default({
      endpoint: fx.server.addr,
      token: fx.server.token,
      namespace: 'team-a',
    });
    await team.write('transit/keys/ns-key', {});
    const namespaced = open('ns-key', { namespace: 'team-a' });
    expect((await namespaced.decrypt(await namespaced.encrypt(Buffer.from('y'), ctx), ctx)).toString()).toBe('y');
    expect(
      fx.server.requests().some((r) => r.namespace === 'team-a' && r.path === 'transit/datakey/plaintext/ns-key'),
    ).toBe(true);
  });
});

describe('DEK cache', () => {
  it('makes exactly one Vault call for 1,000 concurrent cold encrypts', async () => {
    const key = await fx.newKey();
    const transit = open(key);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => transit.encrypt(Buffer.from(`r${i}`), { ...ctx, id: i })));
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(1);
  });

  it('takes a new DEK after maxMessages records', async () => {
    const key = await fx.newKey();
    const transit = open(key, { cache: { maxAgeMs: 60_000, maxMessages: 10 } });
    for (let i = 0; i < 25; i++) await transit.encrypt(Buffer.from('x'), ctx);
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(3);
  });

  it('takes a new DEK after maxAgeMs (injected clock)', async () => {
    let now = 1_000_000;
    const key = await fx.newKey();
    const transit = open(key, { cache: { maxAgeMs: 1000 }, now: () => now });
    await transit.encrypt(Buffer.from('x'), ctx);
    now += 999;
    await transit.encrypt(Buffer.from('x'), ctx);
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(1);
    now += 1;
    await transit.encrypt(Buffer.from('x'), ctx);
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(2);
  });

  it('takes a new DEK when maxBytes would be exceeded', async () => {
    const key = await fx.newKey();
    const transit = open(key, { cache: { maxAgeMs: 60_000, maxBytes: 100 } });
    for (let i = 0; i < 4; i++) await transit.encrypt(Buffer.alloc(40), ctx);
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(2);
  });

  it('unwraps N cold records in ⌈N/256⌉ batched Vault calls, and then serves them from the cache', async () => {
    const key = await fx.newKey();
    const writer = open(key);
    const n = 600;
    const contexts = Array.from({ length: n }, (_, i) => ({ ...ctx, id: i }));
    // N records with N distinct wrapped DEKs, made in a few Vault calls: all encrypted under one DEK
    // (one datakey call), then rewrapped (⌈N/256⌉ rewrap calls), which gives each record a wrapping
    // of its own. A reader cannot tell these from N DEKs: it unwraps each wrapped DEK once. (One
    // DEK per record, with maxMessages: 1, took N datakey calls one after the other: 2-4 s on an
    // idle machine, over the test timeout on a loaded one.)
    const encrypted = await Promise.all(contexts.map((context, i) => writer.encrypt(Buffer.from(`v${i}`), context)));
    const rewrapped = await writer.rewrap(encrypted.map((envelope) => ({ envelope })));
    const records = rewrapped.map((r) => (r.ok ? r.envelope : Buffer.alloc(0)));
    expect(rewrapped.every((r) => r.ok)).toBe(true);
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(1);
    fx.server.clearRequests();

    const reader = open(key);
    const items = records.map((envelope, i) => ({ envelope, context: contexts[i] ?? ctx }));
    const results = await reader.decryptMany(items);
    expect(results.map((r) => (r.ok ? r.plaintext.toString() : r.error.code))).toEqual(contexts.map((_, i) => `v${i}`));
    expect(requestsFor(key).map((r) => [r.path, r.batchSize])).toEqual([
      [`transit/decrypt/${key}`, 256],
      [`transit/decrypt/${key}`, 256],
      [`transit/decrypt/${key}`, 88],
    ]);
    const again = await reader.decryptMany(items);
    expect(again.every((r) => r.ok)).toBe(true);
    expect(requestsFor(key)).toHaveLength(3);
  });

  it('unwraps a DEK shared by 500 concurrent cold decrypts once', async () => {
    const key = await fx.newKey();
    const writer = open(key);
    const records = await Promise.all(
      Array.from({ length: 500 }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), { ...ctx, id: i })),
    );
    fx.server.clearRequests();
    const reader = open(key);
    await Promise.all(records.map((envelope, i) => reader.decrypt(envelope, { ...ctx, id: i })));
    expect(requestsFor(key).map((r) => [r.path, r.batchSize])).toEqual([[`transit/decrypt/${key}`, 1]]);
  });

  it('refuses use after close() and forgets its data keys', async () => {
    const transit = open(await fx.newKey());
    const envelope = await transit.encrypt(Buffer.from('x'), ctx);
    transit.close();
    expect(transit.stats()).toEqual({ encryptCacheEntries: 0, decryptCacheEntries: 0 });
    await expect(transit.encrypt(Buffer.from('x'), ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    await expect(transit.decrypt(envelope, ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
  });

  it('keeps nothing an in-flight Vault call brings back after close()', async () => {
    const key = await fx.newKey();
    const transit = open(key);
    const encrypting = transit.encrypt(Buffer.from('x'), ctx);
    transit.close();
    await expect(encrypting).rejects.toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    const envelope = await open(key).encrypt(Buffer.from('y'), ctx);
    const reader = open(key);
    const decrypting = reader.decrypt(envelope, ctx);
    await new Promise((resolve) => setImmediate(resolve)); // the unwrap batch is on its way
    reader.close();
    await expect(decrypting).rejects.toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    for (const t of [transit, reader]) expect(t.stats()).toEqual({ encryptCacheEntries: 0, decryptCacheEntries: 0 });
  });

  it("keeps the node-vault client's own request headers (its token, its namespace)", async () => {
    // The token only in requestOptions.headers: a Transit call that dropped the client's headers
    // would reach Vault without it (and, with X-Vault-Namespace, in another namespace).
    const client = vault({
      endpoint: fx.server.addr,
      requestOptions: { headers: { 'X-Vault-Token': fx.server.token } },
    });
    const transit = tracked(
      createTransit({
        vault: client,
        key: await fx.newKey(),
        cache: { maxAgeMs: 60_000 },
        retry: { attempts: 1 },
      }),
    );
    const envelope = await transit.encrypt(Buffer.from('z'), ctx);
    expect((await transit.decrypt(envelope, ctx)).toString()).toBe('z');
  });

  it('reports each failed item of decryptMany on its own', async () => {
    const transit = open(await fx.newKey());
    const good = await transit.encrypt(Buffer.from('ok'), ctx);
    const results = await transit.decryptMany([
      { envelope: good, context: ctx },
      { envelope: good, context: { ...ctx, id: 0 } },
      { envelope: Buffer.from('nope'), context: ctx },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'ERR_TRANSIT_INTEGRITY',
      'ERR_TRANSIT_MALFORMED_ENVELOPE',
    ]);
  });

  it('emits metrics without secret material', async () => {
    const metrics: TransitMetric[] = [];
    const transit = open(await fx.newKey(), { onMetric: (m) => metrics.push(m) });
    const envelope = await transit.encrypt(Buffer.from('top-secret'), ctx);
    await transit.decrypt(envelope, ctx);
    expect(metrics.map((m) => m.type)).toEqual(expect.arrayContaining(['cache', 'vault-call']));
    const text = JSON.stringify(metrics);
    expect(text).not.toContain('top-secret');
    expect(text).not.toContain('t1');
  });
});

describe('hygiene', () => {
  it('never prints a data key', () => {
    const dataKey = new DataKey(Buffer.alloc(32, 0xab));
    expect(inspect(dataKey)).toBe('[DataKey redacted]');
    expect(JSON.stringify({ dataKey })).toBe('{"dataKey":"[DataKey redacted]"}');
  });

  it('zeroes the DEK buffer it was given', () => {
    const raw = Buffer.alloc(32, 0xab);
    new DataKey(raw);
    expect(raw.every((b) => b === 0)).toBe(true);
  });

  it('puts no value, context, ciphertext or token in error messages', async () => {
    const transit = open(await fx.newKey());
    const envelope = await transit.encrypt(Buffer.from('PLAINTEXT-MARKER'), { tenant: 'TENANT-MARKER', id: 1 });
    const errors: unknown[] = [];
    await transit.decrypt(envelope, { tenant: 'OTHER-MARKER', id: 1 }).catch((e) => errors.push(e));
    await transit
      .decrypt(Buffer.concat([envelope, Buffer.from('x')]), { tenant: 'TENANT-MARKER', id: 1 })
      .catch((e) => errors.push(e));
    await open('missing-key')
      .encrypt(Buffer.from('PLAINTEXT-MARKER'), { tenant: 'TENANT-MARKER' })
      .catch((e) => errors.push(e));
    expect(errors).toHaveLength(3);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TransitError);
      const text = `${(error as Error).message} ${String((error as Error).cause)} ${inspect(error, { depth: 5 })}`;
      for (const secret of [
        'PLAINTEXT-MARKER',
        'TENANT-MARKER',
        'OTHER-MARKER',
        fx.server.token,
        envelope.toString('base64').slice(20, 40),
      ]) {
        expect(text).not.toContain(secret);
      }
    }
    expect((errors[2] as TransitError).code).toBe('ERR_TRANSIT_KEY_NOT_FOUND');
  });
});

describe('Transit.verifyKey', () => {
  it('accepts an aes256-gcm96 key and reports its versions', async () => {
    const info = await open(await fx.newKey()).verifyKey();
    expect(info).toMatchObject({ type: 'aes256-gcm96', derived: false, latestVersion: 1, minDecryptionVersion: 1 });
  });

  it('refuses an xchacha20-poly1305 key, whose 24-byte nonce would fail every encrypt', async () => {
    // The dev server cannot create one; a client answering `keys/<name>` as Vault would for it.
    const keyInfo = {
      data: {
        type: 'xchacha20-poly1305',
        derived: false,
        latest_version: 1,
        min_decryption_version: 1,
        keys: { 1: 0 },
      },
    };
    const client = { read: async () => keyInfo, write: async () => ({}) } as unknown as ReturnType<typeof vault>;
    const transit = tracked(
      createTransit({ vault: client, key: 'x', cache: { maxAgeMs: 60_000 }, retry: { attempts: 1 } }),
    );
    await expect(transit.verifyKey()).rejects.toMatchObject({ code: 'ERR_TRANSIT_KEY_MISCONFIGURED' });
  });

  it('refuses tenantBinding on a key that is not derived (Vault would ignore the context)', async () => {
    const transit = open(await fx.newKey(), { tenantBinding: { contextKey: 'tenant' } });
    await expect(transit.verifyKey()).rejects.toMatchObject({ code: 'ERR_TRANSIT_KEY_MISCONFIGURED' });
  });
});

describe('tenant binding', () => {
  it('binds each DEK to its tenant through the derived key context', async () => {
    const key = await fx.newKey({ derived: true });
    const transit = open(key, { tenantBinding: { contextKey: 'tenant' } });
    await transit.verifyKey();
    const a = await transit.encrypt(Buffer.from('a'), { ...ctx, tenant: 'A' });
    const b = await transit.encrypt(Buffer.from('b'), { ...ctx, tenant: 'B' });
    expect(callsTo(`transit/datakey/plaintext/${key}`)).toBe(2);
    expect(transit.inspect(a).tenantBound).toBe(true);
    const reader = open(key, { tenantBinding: { contextKey: 'tenant' } });
    expect((await reader.decrypt(a, { ...ctx, tenant: 'A' })).toString()).toBe('a');
    expect((await reader.decrypt(b, { ...ctx, tenant: 'B' })).toString()).toBe('b');
    // Tenant A's wrapped DEK does not unwrap under tenant B's context (Vault derives another key).
    await expect(
      open(key, { tenantBinding: { contextKey: 'tenant' } }).decrypt(a, { ...ctx, tenant: 'B' }),
    ).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
    });
  });
});
