import { Console } from 'node:console';
import { PassThrough, Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import { serialize } from 'node:v8';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { Secret } from './secret.ts';

const VALUE = 'Qm9vdHN0cmFwLXZhbHVlLXRoYXQtbXVzdC1uZXZlci1sZWFr';
const LABEL = '[REDACTED:JWT_KEY]';

function captureConsole(write: (c: Console) => void): string {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  write(new Console({ stdout: stream, stderr: stream, colorMode: false }));
  return Buffer.concat(chunks).toString('utf8');
}

describe('Secret', () => {
  const secret = Secret.of('JWT_KEY', VALUE);

  it('shows [REDACTED:NAME] in console.log, console.error and console.dir', () => {
    const out = captureConsole((c) => {
      c.log(secret);
      c.log('key=%s', secret);
      c.log({ nested: { secret } });
      c.error(secret);
      c.dir(secret, { depth: 5, showHidden: true });
      c.table([{ secret }]);
    });
    expect(out).toContain(LABEL);
    expect(out).not.toContain(VALUE);
  });

  it('shows [REDACTED:NAME] in util.inspect and util.format, even with customInspect off', () => {
    expect(inspect(secret)).toBe(LABEL);
    expect(inspect({ a: [secret] }, { depth: 10, showHidden: true })).toContain(LABEL);
    const raw = inspect(secret, { customInspect: false, showHidden: true, getters: true });
    expect(raw).toContain(LABEL);
    expect(raw).not.toContain(VALUE);
    for (const directive of ['%s', '%o', '%O', '%j', '%d', '%i'])
      expect(format(directive, secret)).not.toContain(VALUE);
  });

  it('shows [REDACTED:NAME] in JSON.stringify, template strings, String() and concatenation', () => {
    expect(JSON.stringify({ secret })).toBe(`{"secret":"${LABEL}"}`);
    expect(`${secret}`).toBe(LABEL);
    expect(String(secret)).toBe(LABEL);
    expect(`${secret}`).toBe(LABEL);
    expect(secret.toString()).toBe(LABEL);
    expect(Number.isNaN(Number(secret))).toBe(true);
  });

  it('leaves only the label in spread copies, Object.assign, structuredClone and v8.serialize', () => {
    const copies = [{ ...secret }, Object.assign({}, secret), structuredClone(secret), structuredClone({ secret })];
    for (const copy of copies) {
      expect(JSON.stringify(copy)).not.toContain(VALUE);
      expect(inspect(copy, { showHidden: true, depth: 10 })).not.toContain(VALUE);
    }
    expect({ ...secret }).toEqual({ redacted: LABEL });
    expect(structuredClone(secret)).toEqual({ redacted: LABEL });
    expect(serialize(secret).includes(Buffer.from(VALUE))).toBe(false);
    expect(Reflect.ownKeys(secret)).toEqual(['redacted']);
  });

  it('refuses to reveal from a copy', () => {
    const copy = Object.assign(Object.create(Secret.prototype) as Secret, structuredClone(secret));
    expect(() => copy.reveal()).toThrow(ConfigError);
    expect(Secret.isSecret(copy)).toBe(false);
    expect(Secret.isSecret(secret)).toBe(true);
  });

  it('shows [REDACTED:NAME] in pino logs, as a field, nested, in an error and as the message', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString('utf8'));
        callback();
      },
    });
    const logger = pino({ level: 'trace' }, destination);
    logger.info({ secret }, 'loaded');
    logger.info({ config: { nested: [secret] } });
    logger.info('key %s', secret);
    logger.info(secret as unknown as object);
    logger.child({ secret }).warn('child');
    logger.error(new Error(`failed with ${secret}`));
    const out = lines.join('');
    expect(lines).toHaveLength(6);
    expect(out).toContain(LABEL);
    expect(out).not.toContain(VALUE);
  });

  it('reveals only through an explicit call and compares in constant time', () => {
    expect(secret.reveal()).toBe(VALUE);
    expect(secret.name).toBe('JWT_KEY');
    expect(secret.equals(VALUE)).toBe(true);
    expect(secret.equals(Secret.of('OTHER', VALUE))).toBe(true);
    expect(secret.equals(`${VALUE}x`)).toBe(false);
  });

  it('refuses to compare with anything but a string or a live Secret, with ERR_CONFIG_NOT_A_SECRET', () => {
    const others: unknown[] = [
      undefined,
      null,
      42,
      ['x'],
      Buffer.from(VALUE),
      { ...secret },
      structuredClone(secret),
      new Proxy(secret, {}),
    ];
    for (const other of others) {
      let thrown: unknown;
      try {
        secret.equals(other as string);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_NOT_A_SECRET');
      expect((thrown as ConfigError).message).toMatch(/^equals\(\) takes a string or a live Secret/);
      expect(inspect(thrown, { showHidden: true })).not.toContain(VALUE.slice(0, 8));
    }
  });

  it('Secret.of() refuses a value that is not a string with ERR_CONFIG_SCHEMA, never quoting it', () => {
    // A number reached node's crypto in equals(), whose TypeError quoted it ("Received type number (9876543210)").
    for (const value of [9876543210, 9007199254740993n, undefined, null, Buffer.from('s3cr3t-bytes'), ['s3cr3t']]) {
      let thrown: unknown;
      try {
        Secret.of('PIN', value as never).equals('x');
      } catch (error) {
        thrown = error;
      }
      expect(thrown, typeof value).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_SCHEMA');
      expect((thrown as ConfigError).message).toMatch(/PIN/);
      expect(inspect(thrown, { showHidden: true })).not.toMatch(/9876543210|9007199254740993|s3cr3t/);
    }
  });

  it('equals() names only the type of a number or bigint argument', () => {
    for (const other of [9876543210, 9007199254740993n]) {
      let thrown: unknown;
      try {
        secret.equals(other as never);
      } catch (error) {
        thrown = error;
      }
      expect((thrown as ConfigError).code).toBe('ERR_CONFIG_NOT_A_SECRET');
      expect(inspect(thrown, { showHidden: true })).not.toMatch(/9876543210|9007199254740993/);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(secret)).toBe(true);
    expect(() => {
      (secret as { redacted: string }).redacted = 'x';
    }).toThrow(TypeError);
  });
});
