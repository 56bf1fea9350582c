import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeContext } from './context.ts';
import { DataKey } from './data-key.ts';
import { ALG, anyKey, encodeFixedHeader, encodeWrapped, parseRecord } from './envelope.ts';
import { openRecord, sealRecord } from './record-cipher.ts';

/**
 * A fixed-key vector of envelope format 1, so another implementation (or a later version of this
 * one) can check itself: DEK = 00 01 .. 1f, transit key "orders" on the default mount, key version
 * 3, wrapped DEK = 60 × aa, counter 5, context { tenant: t1, table: orders, column: card, id: 7 }.
 */
const VECTOR =
  'ae010100066f726465727303' +
  'aa'.repeat(60) +
  '00000005' +
  '46039551af2023aa53e8a9ea83c8e97bf3a0ffad7fe784bebcb7ee11f8c0bbac' +
  'bbb236a927df136ca6cb969466d485b469b746' +
  '6527037b05f6a86be721652427f39c19';
const PLAINTEXT = '4111 1111 1111 1111';
const CONTEXT = { tenant: 't1', table: 'orders', column: 'card', id: 7 };

function dek(): Buffer {
  return Buffer.from(Array.from({ length: 32 }, (_, i) => i));
}

describe('record format 1 (known-answer vector)', () => {
  it('seals the vector exactly', () => {
    const fixed = encodeFixedHeader(ALG.record, 'transit', 'orders');
    const aad = encodeContext(CONTEXT, fixed);
    const sealed = sealRecord(
      fixed,
      encodeWrapped(3, Buffer.alloc(60, 0xaa)),
      5,
      new DataKey(dek()),
      aad,
      Buffer.from(PLAINTEXT),
    );
    expect(sealed.toString('hex')).toBe(VECTOR);
  });

  it('opens the vector with an independent implementation of the spec', () => {
    const bytes = Buffer.from(VECTOR, 'hex');
    const fixedHeader = bytes.subarray(0, 11); // magic, version, alg, mountLen 0, keyLen 6, "orders"
    const encKey = createHmac('sha256', dek()).update('rampart/transit/v1 encryption key').digest();
    const commitment = createHmac('sha256', dek()).update('rampart/transit/v1 key commitment').digest();
    expect(bytes.subarray(76, 108)).toEqual(commitment); // after key version (1) + wrapped DEK (60) + counter (4)
    const nonce = Buffer.concat([Buffer.alloc(8), bytes.subarray(72, 76)]);
    const context = Buffer.from(
      '04' +
        '06636f6c756d6e' +
        '0004' +
        Buffer.from('card').toString('hex') +
        '026964' +
        '0001' +
        '37' +
        '057461626c65' +
        '0006' +
        Buffer.from('orders').toString('hex') +
        '0674656e616e74' +
        '0002' +
        '7431',
      'hex',
    );
    const decipher = createDecipheriv('aes-256-gcm', encKey, nonce);
    decipher.setAAD(Buffer.concat([fixedHeader, context]));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plaintext = Buffer.concat([decipher.update(bytes.subarray(108, bytes.length - 16)), decipher.final()]);
    expect(plaintext.toString()).toBe(PLAINTEXT);
  });

  it('opens the vector with openRecord and the same context only', () => {
    const record = parseRecord(Buffer.from(VECTOR, 'hex'), anyKey);
    expect([record.key, record.keyVersion, record.counter]).toEqual(['orders', 3, 5]);
    expect(openRecord(record, new DataKey(dek()), encodeContext(CONTEXT, record.fixedHeader)).toString()).toBe(
      PLAINTEXT,
    );
    expect(() =>
      openRecord(record, new DataKey(dek()), encodeContext({ ...CONTEXT, id: 8 }, record.fixedHeader)),
    ).toThrow(/does not authenticate/);
  });
});
