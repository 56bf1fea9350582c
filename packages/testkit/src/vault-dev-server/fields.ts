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
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
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

/** The names of `fields` that no handler parameter claims, in Vault's warning wording. */
export function unknownFieldWarning(fields: Fields, known: readonly string[]): string[] {
  const unknown = Object.keys(fields).filter((k) => !known.includes(k));
  return unknown.length === 0 ? [] : [`Endpoint ignored these unrecognized parameters: [${unknown.sort().join(' ')}]`];
}
