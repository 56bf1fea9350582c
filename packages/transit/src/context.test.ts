import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeContext, tenantOf } from './context.ts';
import { TransitError } from './errors.ts';

const contextArb = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.integer({ min: 0 }).map(String)),
  { minKeys: 1, maxKeys: 6 },
);

describe('encodeContext', () => {
  it('does not depend on the order of the keys', () => {
    fc.assert(
      fc.property(contextArb, (context) => {
        const reversed = Object.fromEntries(Object.entries(context).reverse());
        expect(encodeContext(reversed)).toEqual(encodeContext(context));
      }),
    );
  });

  it('encodes different contexts differently (injective)', () => {
    fc.assert(
      fc.property(contextArb, contextArb, (a, b) => {
        const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
        expect(encodeContext(a).equals(encodeContext(b))).toBe(same);
      }),
    );
  });

  it('treats 42, 42n and "42" as the same value', () => {
    expect(encodeContext({ id: 42 })).toEqual(encodeContext({ id: '42' }));
    expect(encodeContext({ id: 42n })).toEqual(encodeContext({ id: '42' }));
  });

  it.each([
    ['an empty context', {}],
    ['an empty value', { tenant: '' }],
    ['a fractional number', { id: 1.5 }],
    ['an object value', { id: {} as unknown as string }],
  ])('refuses %s with ERR_TRANSIT_INVALID_CONTEXT', (_what, context) => {
    expect(() => encodeContext(context as never)).toThrowError(
      expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_CONTEXT' }),
    );
  });

  it('names the key but never the value in its errors', () => {
    try {
      encodeContext({ ssn: 1.25 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TransitError);
      expect((error as Error).message).toContain('"ssn"');
      expect((error as Error).message).not.toContain('1.25');
    }
  });

  it('refuses lone surrogates, which would make different contexts encode alike', () => {
    for (const context of [{ id: 'user-\uD800' }, { id: 'user-\uDFFF' }, { ['k\uD800']: 'v' }]) {
      expect(() => encodeContext(context)).toThrowError(
        expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_CONTEXT' }),
      );
    }
    expect(() => tenantOf({ tenant: 't\uDC00' }, 'tenant')).toThrowError(
      expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_CONTEXT' }),
    );
    // A valid pair is fine and differs from U+FFFD.
    expect(encodeContext({ id: 'user-\u{1F600}' }).equals(encodeContext({ id: 'user-\uFFFD' }))).toBe(false);
  });
});

describe('tenantOf', () => {
  it('reads the tenant from an own property, as a class instance holds it', () => {
    class RecordContext {
      readonly [name: string]: string | number;
      readonly tenant = 't1';
      readonly id = 42;
    }
    expect(tenantOf(new RecordContext(), 'tenant')).toBe('t1');
  });

  it('treats an inherited or non-enumerable tenant as missing: encodeContext would leave it out of the AAD', () => {
    const inherited = Object.create({ tenant: 't1' }) as Record<string, string>;
    inherited.id = '42';
    const hidden = { id: '42' };
    Object.defineProperty(hidden, 'tenant', { value: 't1', enumerable: false });
    for (const context of [inherited, hidden]) {
      expect(encodeContext(context).includes(Buffer.from('tenant'))).toBe(false);
      try {
        tenantOf(context, 'tenant');
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(TransitError);
        expect((error as TransitError).code).toBe('ERR_TRANSIT_INVALID_CONTEXT');
        expect((error as Error).message).toContain('"tenant"');
        expect((error as Error).message).not.toContain('t1');
      }
    }
  });
});
