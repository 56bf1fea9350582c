import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfigSync } from './load.ts';
import { createRedactor } from './redactor.ts';
import { string } from './scalars.ts';
import { secret } from './secret-spec.ts';

describe('createRedactor', () => {
  const jwt = randomBytes(32).toString('base64');
  const quoted = `pa"ss\\word-${randomBytes(8).toString('hex')}`;
  const config = loadConfigSync(
    { JWT_KEY: secret(), DB_PASSWORD: secret({ kind: 'password' }), SHORT: secret(), NAME: string() },
    { env: { NODE_ENV: 'test', JWT_KEY: jwt, DB_PASSWORD: quoted, SHORT: 'abc', NAME: 'billing' } },
  );
  const redact = createRedactor(config);

  it('replaces revealed secret values in text, raw and JSON-escaped', () => {
    expect(redact(`Authorization: ${jwt} for billing`)).toBe('Authorization: [REDACTED:JWT_KEY] for billing');
    expect(redact(JSON.stringify({ msg: `connecting with ${quoted}` }))).toBe(
      '{"msg":"connecting with [REDACTED:DB_PASSWORD]"}',
    );
    expect(redact('billing abc')).toBe('billing abc'); // too short to scrub safely
  });

  it('replaces secret values percent-encoded into URLs and forms', () => {
    const password = `p@ss/w:rd ${randomBytes(8).toString('hex')}+=`;
    const base64 = `${randomBytes(30).toString('base64').slice(0, 36)}+/==`;
    const urls = loadConfigSync(
      { DB_PASSWORD: secret({ kind: 'password' }), API_KEY: secret() },
      { env: { NODE_ENV: 'test', DB_PASSWORD: password, API_KEY: base64 } },
    );
    const scrub = createRedactor(urls);
    const encoded = encodeURIComponent(password);
    expect(scrub(`connecting to postgres://app:${encoded}@db:5432/app`)).toBe(
      'connecting to postgres://app:[REDACTED:DB_PASSWORD]@db:5432/app',
    );
    expect(scrub(`GET /hook?key=${encodeURIComponent(base64)}&x=1`)).toBe('GET /hook?key=[REDACTED:API_KEY]&x=1');
    expect(scrub(`body ${new URLSearchParams({ password })}`)).toBe('body password=[REDACTED:DB_PASSWORD]');
    const lowerHex = encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
    expect(scrub(`url ${lowerHex}`)).toBe('url [REDACTED:DB_PASSWORD]');
    const lone = loadConfigSync({ K: secret() }, { env: { NODE_ENV: 'test', K: 'ab\ud800cdefghijkl' } });
    expect(createRedactor(lone)('x ab\ud800cdefghijkl')).toBe('x [REDACTED:K]'); // a lone surrogate does not throw
  });

  it('scrubs pino output through hooks.streamWrite', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logger = pino({ hooks: { streamWrite: redact } }, destination);
    logger.info(`token is ${config.JWT_KEY.reveal()}`);
    logger.info({ password: config.DB_PASSWORD.reveal() }, 'connect');
    const out = lines.join('');
    expect(out).not.toContain(jwt);
    expect(out).not.toContain(JSON.stringify(quoted).slice(1, -1));
    expect(out).toContain('[REDACTED:JWT_KEY]');
    expect(out).toContain('[REDACTED:DB_PASSWORD]');
  });
});
