import { userError } from './vault-http-error.ts';

/**
 * Vault's request fields are weakly typed (framework.FieldData): an int may arrive as a JSON number
 * or a numeric string, a bool as `true` or `"true"`. These readers mirror that, and fail with the
 * 400 error Vault gives for an unconvertible value.
 */
export type Fields = Readonly<Record<string, unknown>>;

export function has(fields: Fields, name: string): boolean {
  return Object.hasOwn(fields, name) && fields[name] !== null && fields[name] !== undefined;
}

export function readString(fields: Fields, name: string): string | undefined {
  if (!has(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  // mapstructure's WeakDecode, which Vault's TypeString uses, turns a bool into "1" or "0".
  if (typeof value === 'boolean') return value ? '1' : '0';
  throw userError(`error converting input for field "${name}": expected a string`);
}

export function readInt(fields: Fields, name: string): number | undefined {
  if (!has(fields, name)) return undefined;
  const value = fields[name];
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
  throw userError(`error converting input for field "${name}": expected an integer`);
}

export function readBool(fields: Fields, name: string): boolean | undefined {
  if (!has(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === 1) return true;
  if (value === 'false' || value === '0' || value === 0) return false;
  throw userError(`error converting input for field "${name}": expected a boolean`);
}

/** `TypeDurationSecond`: seconds as a number, or a Go duration string such as `"1h30m"`. */
export function readDurationSeconds(fields: Fields, name: string): number | undefined {
  if (!has(fields, name)) return undefined;
  const value = fields[name];
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed);
    const units: Record<string, number> = { s: 1, m: 60, h: 3600 };
    const parts = [...trimmed.matchAll(/(\d+)([smh])/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join('') === trimmed) {
      return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? 's'] ?? 1), 0);
    }
  }
  throw userError(`error converting input for field "${name}": expected a duration`);
}

/**
 * Standard base64 with padding, strictly: Go's `base64.StdEncoding.DecodeString`, which skips `\r`
 * and `\n` wherever they are (MIME-wrapped base64 decodes) and refuses any other stray character.
 */
export function decodeBase64Std(input: string): Buffer | undefined {
  const value = input.replace(/[\r\n]/g, '');
  if (value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  // Like Go's non-strict StdEncoding, non-zero trailing padding bits are accepted.
  return Buffer.from(value, 'base64');
}

/**
 * Where Go's `base64.StdEncoding.DecodeString` stops on `input`: the byte offset its
 * `CorruptInputError` reports (`illegal base64 data at input byte N`), or `undefined` when it decodes.
 * Offsets count the `\r` and `\n` it skips, as Go's do. The input is read as UTF-8 bytes.
 */
export function goBase64ErrorOffset(input: string): number | undefined {
  const src = Buffer.from(input, 'utf8');
  const isAlphabet = (c: number): boolean =>
    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
  const isNewline = (c: number | undefined): boolean => c === 0x0a || c === 0x0d;
  let si = 0;
  // decodeQuantum, one 4-character quantum at a time (Decode's fast paths give the same result).
  while (si < src.length) {
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return undefined;
        return si - j;
      }
      const c = src[si] as number;
      si++;
      if (isAlphabet(c)) continue;
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== 0x3d || j < 2) return si - 1;
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) return src.length;
        if (src[si] !== 0x3d) return si - 1;
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      return si < src.length ? si : undefined;
    }
  }
  return undefined;
}

/** The names of `fields` that no handler parameter claims, in Vault's warning wording. */
export function unknownFieldWarning(fields: Fields, known: readonly string[]): string[] {
  const unknown = Object.keys(fields).filter((k) => !known.includes(k));
  return unknown.length === 0 ? [] : [`Endpoint ignored these unrecognized parameters: [${unknown.sort().join(' ')}]`];
}
