import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJson, StrictJsonError } from './strict-json.ts';

describe('parseStrictJson', () => {
  it('agrees with JSON.parse on any JSON without duplicate or __proto__ members', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        if (text === undefined || text.includes('"__proto__"')) return;
        expect(JSON.parse(JSON.stringify(parseStrictJson(text)))).toEqual(JSON.parse(text));
      }),
    );
  });

  it('rejects every object with a duplicate member, however it is spelled', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.jsonValue(), fc.jsonValue(), (name, a, b) => {
        const escaped = JSON.stringify(name).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
        const text = `{${JSON.stringify(name)}:${JSON.stringify(a) ?? 'null'},${escaped}:${JSON.stringify(b) ?? 'null'}}`;
        expect(() => parseStrictJson(text)).toThrow(StrictJsonError);
      }),
    );
  });

  it('returns objects with a null prototype at every depth', () => {
    const parsed = parseStrictJson('{"a":{"b":[{"c":1}]}}') as { a: { b: [{ c: number }] } };
    expect(Object.getPrototypeOf(parsed)).toBeNull();
    expect(Object.getPrototypeOf(parsed.a)).toBeNull();
    expect(Object.getPrototypeOf(parsed.a.b[0])).toBeNull();
  });

  it('rejects __proto__ members, escaped or not', () => {
    expect(() => parseStrictJson('{"__proto__":{"admin":true}}')).toThrow(StrictJsonError);
    expect(() => parseStrictJson('{"\\u005f_proto__":1}')).toThrow(StrictJsonError);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('rejects non-finite numbers, deep nesting, trailing data and non-JSON', () => {
    for (const text of [
      '1e400',
      '-1e400',
      `${'['.repeat(40)}${']'.repeat(40)}`,
      '{} x',
      "{'a':1}",
      '{"a":1,}',
      '[1,]',
      '01',
      'NaN',
      '"\u0001"',
      '\uFEFF{}',
      '',
    ]) {
      expect(() => parseStrictJson(text)).toThrow(StrictJsonError);
    }
  });

  it('never throws anything but StrictJsonError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseStrictJson(text);
        } catch (error) {
          expect(error).toBeInstanceOf(StrictJsonError);
        }
      }),
    );
  });

  it('never puts the input in its error message', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 12 }), (secret) => {
        try {
          parseStrictJson(`{"a":"${secret}",`);
        } catch (error) {
          expect((error as Error).message).not.toContain(secret);
        }
      }),
    );
  });

  it('with onRefusedMember, reports each object with a duplicate or __proto__ member and leaves the member out', () => {
    const marked: unknown[] = [];
    const parsed = parseStrictJson('{"keys":[{"a":1,"a":2},{"__proto__":{}},{"b":3}]}', {
      onRefusedMember: (object) => marked.push(object),
    }) as { keys: Record<string, unknown>[] };
    expect(marked).toEqual([parsed.keys[0], parsed.keys[1]]);
    expect({ ...parsed.keys[0] }).toEqual({ a: 1 });
    expect(Object.keys(parsed.keys[1] as object)).toEqual([]);
    expect(() => parseStrictJson('{"keys":[{"a":1,"a":2}]}')).toThrow(StrictJsonError);
  });
});
