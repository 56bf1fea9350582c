import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALG, anyKey, encodeFixedHeader, parseHead } from '../src/envelope.ts';
import { type Transit, TransitError } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { pipeThrough } from './pipe-through.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());

const ctx = { tenant: 't1', table: 'notes', column: 'body', id: 1 };

/** `envelope` claiming to be under `key` on `mount`: only its fixed header changes. */
function forge(envelope: Buffer, mount: string, key: string): Buffer {
  const head = parseHead(envelope, anyKey);
  return Buffer.concat([encodeFixedHeader(head.alg, mount, key), envelope.subarray(head.fixedHeader.length)]);
}

/** How each reader of envelopes answers `envelope`: an error code, or 'ok' / what the report says. */
async function outcomes(transit: Transit, envelope: Buffer): Promise<Record<string, string>> {
  const code = async (run: () => Promise<unknown> | unknown): Promise<string> => {
    try {
      await run();
      return 'ok';
    } catch (error) {
      if (!(error instanceof TransitError)) throw error;
      return error.code;
    }
  };
  const stream = envelope[2] === ALG.stream;
  const [rewrapped] = await transit.rewrap([{ envelope }]);
  const report = await transit.rotationReport([envelope]);
  const listed = (['stale', 'malformed', 'notAccepted', 'keyNotFound'] as const).filter((l) => report[l].length > 0);
  return {
    decrypt: stream
      ? await code(() => pipeThrough(envelope, transit.decryptStream(ctx)))
      : await code(() => transit.decrypt(envelope, ctx)),
    rewrap: rewrapped?.ok ? 'ok' : (rewrapped?.error.code ?? 'none'),
    report: listed.join(',') || 'none',
    inspect: await code(() => transit.inspect(envelope)),
  };
}

describe('every reader of an envelope header', () => {
  it('refuses a header naming another key the same way: decrypt, decryptStream, rewrap, rotationReport', async () => {
    const key = await fx.newKey();
    const other = await fx.newKey();
    const transit = fx.transit(key, { frameSize: 64 });
    const record = await transit.encrypt(Buffer.from('a'), ctx);
    const stream = await pipeThrough(Buffer.from('s'), transit.encryptStream(ctx));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    for (const mine of [record, stream]) {
      expect(await outcomes(transit, mine)).toEqual({ decrypt: 'ok', rewrap: 'ok', report: 'stale', inspect: 'ok' });
      // 'truncated': a name that is also a word of the parser's messages.
      for (const name of [other, 'truncated']) {
        expect(await outcomes(transit, forge(mine, 'transit', name))).toEqual({
          decrypt: 'ERR_TRANSIT_KEY_NOT_ACCEPTED',
          rewrap: 'ERR_TRANSIT_KEY_NOT_ACCEPTED',
          report: 'notAccepted',
          inspect: 'ok',
        });
      }
      for (const [mount, name] of [
        ['transit', '../../sys/mounts'],
        ['../sys', 'mounts'],
        ['transit', 'SECRET\nline2'],
      ] as const) {
        fx.server.clearRequests();
        expect(await outcomes(transit, forge(mine, mount, name))).toEqual({
          decrypt: 'ERR_TRANSIT_MALFORMED_ENVELOPE',
          rewrap: 'ERR_TRANSIT_MALFORMED_ENVELOPE',
          report: 'malformed',
          inspect: 'ERR_TRANSIT_MALFORMED_ENVELOPE',
        });
        expect(fx.server.requests()).toEqual([]);
      }
    }
  });

  it('never puts a refused name in an error message', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const mine = await transit.encrypt(Buffer.from('a'), ctx);
    const forged = forge(mine, 'transit', 'SECRET-VALUE\nforged log line');
    const [rewrapped] = await transit.rewrap([{ envelope: forged }]);
    const errors = [
      await transit.decrypt(forged, ctx).catch((error: unknown) => error),
      rewrapped?.ok === false ? rewrapped.error : undefined,
      (() => {
        try {
          transit.inspect(forged);
          return undefined;
        } catch (error) {
          return error;
        }
      })(),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(TransitError);
      expect((error as TransitError).message).not.toContain('SECRET');
      expect((error as TransitError).message).not.toContain('forged log line');
    }
  });

  it('rewraps an envelope of an acceptKeys key under that key, as rotationReport lists it stale', async () => {
    const old = await fx.newKey();
    const key = await fx.newKey();
    const before = await fx.transit(old).encrypt(Buffer.from('migrating'), ctx);
    await fx.client.write(`transit/keys/${old}/rotate`, {});
    const transit = fx.transit(key, { acceptKeys: [{ key: old }] });
    expect((await transit.rotationReport([before])).stale).toEqual([0]);
    fx.server.clearRequests();
    const [result] = await transit.rewrap([{ envelope: before }]);
    if (!result?.ok) throw result?.error ?? new Error('no result');
    expect(fx.server.requests().map((r) => r.path)).toEqual([`transit/rewrap/${old}`]);
    expect([result.fromVersion, result.toVersion]).toEqual([1, 2]);
    expect(transit.inspect(result.envelope)).toMatchObject({ key: old, keyVersion: 2 });
    await fx.client.write(`transit/keys/${old}/config`, { min_decryption_version: 2 });
    const reader = fx.transit(key, { acceptKeys: [{ key: old }], decryptCache: false });
    expect((await reader.decrypt(result.envelope, ctx)).toString()).toBe('migrating');
  });
});
