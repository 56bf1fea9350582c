import { createHash, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigError } from './errors.ts';

// The value never lives on the object: a clone, a spread or a serializer sees only the label.
const values = new WeakMap<Secret, string>();

/**
 * A configured secret. Every way of printing or serializing it (`console.log`, `util.inspect`,
 * `JSON.stringify`, template strings, `String()`, spreading, `structuredClone`, pino) yields
 * `[REDACTED:NAME]`; the value comes out only through {@link Secret.reveal}.
 *
 * @example
 * ```ts
 * import { Secret } from '@rampart/config';
 * const key = Secret.of('JWT_KEY', 'value-from-your-secret-store');
 * console.log(`${key}`); // [REDACTED:JWT_KEY]
 * key.reveal(); // the value, explicitly
 * ```
 */
export class Secret {
  /** What every printing path shows: `[REDACTED:NAME]`. Own and enumerable so copies carry only this. */
  readonly redacted: string;

  private constructor(name: string, value: string) {
    this.redacted = `[REDACTED:${name}]`;
    values.set(this, value);
    Object.freeze(this);
  }

  /**
   * Wraps a value. Configuration loading does this for you; use it in tests and adapters.
   *
   * @throws {ConfigError} `ERR_CONFIG_SCHEMA` when `value` is not a string (the message names its
   * type, never the value).
   *
   * @example
   * ```ts
   * const apiKey = Secret.of('API_KEY', 'value-from-your-secret-store');
   * ```
   */
  static of(name: string, value: string): Secret {
    // Checked here, not left to node's crypto in equals(): its TypeError quotes the value.
    if (typeof value !== 'string') {
      const key = typeof name === 'string' ? name : 'the key';
      throw new ConfigError(
        'ERR_CONFIG_SCHEMA',
        `Secret.of(): the value of ${key} must be a string, not ${describeArgument(value)}; pass the secret as text (String(pin), buffer.toString('base64')).`,
      );
    }
    return new Secret(name, value);
  }

  /**
   * True when `candidate` is a live `Secret` (not a clone or copy of one).
   *
   * @example
   * ```ts
   * Secret.isSecret(structuredClone(Secret.of('K', 'v'))); // false
   * ```
   */
  static isSecret(candidate: unknown): candidate is Secret {
    return typeof candidate === 'object' && candidate !== null && values.has(candidate as Secret);
  }

  /** The key name this secret was loaded for. */
  get name(): string {
    return this.redacted.slice('[REDACTED:'.length, -1);
  }

  /**
   * The value. Call it at the point of use (signing, connecting), never to log or store it.
   *
   * @example
   * ```ts
   * const key = Secret.of('JWT_KEY', 'value-from-your-secret-store');
   * const bytes = new TextEncoder().encode(key.reveal());
   * ```
   */
  reveal(): string {
    const value = values.get(this);
    if (value === undefined) {
      throw new ConfigError(
        'ERR_CONFIG_NOT_A_SECRET',
        'reveal() was called on a copy of a Secret (spread, structuredClone or a deep-clone library); copies never carry the value. Pass the Secret object itself.',
      );
    }
    return value;
  }

  /**
   * Compares with another secret or string in constant time (over SHA-256 digests, so lengths do
   * not leak either).
   *
   * @throws {ConfigError} `ERR_CONFIG_NOT_A_SECRET` when `other` is neither a string nor a live
   * `Secret` (`undefined` from a missing header, a copy of a `Secret`, a `Buffer`), as `reveal()`
   * does on a copy. A wrong argument is a bug in the caller, so it is not answered with `false`,
   * which would look like a wrong credential. Turn a missing input into a string first.
   *
   * @example
   * ```ts
   * const adminKey = Secret.of('ADMIN_KEY', 'value-from-your-secret-store');
   * adminKey.equals(String(request.headers['x-admin-key'] ?? ''));
   * ```
   */
  equals(other: Secret | string): boolean {
    let theirs: string;
    if (typeof other === 'string') theirs = other;
    else if (Secret.isSecret(other)) theirs = other.reveal();
    else {
      throw new ConfigError(
        'ERR_CONFIG_NOT_A_SECRET',
        `equals() takes a string or a live Secret, not ${describeArgument(other)}. Pass the Secret object itself, or turn a missing input into a string first (String(header ?? '')).`,
      );
    }
    const a = createHash('sha256').update(this.reveal()).digest();
    const b = createHash('sha256').update(theirs).digest();
    return timingSafeEqual(a, b);
  }

  /** `[REDACTED:NAME]`. */
  toString(): string {
    return this.redacted;
  }

  /** `[REDACTED:NAME]`, so `JSON.stringify` and JSON loggers such as pino never see the value. */
  toJSON(): string {
    return this.redacted;
  }

  /** `[REDACTED:NAME]` for template strings, `+` and any other coercion. */
  [Symbol.toPrimitive](): string {
    return this.redacted;
  }

  /** `[REDACTED:NAME]` for `console.log` and `util.inspect`. */
  [inspect.custom](): string {
    return this.redacted;
  }

  get [Symbol.toStringTag](): string {
    return 'Secret';
  }
}

/** `undefined`, `a number`, `an object (a copy of a Secret?)`: the kind of an argument, never its content. */
function describeArgument(other: unknown): string {
  if (other === undefined || other === null) return String(other);
  if (typeof other !== 'object') return `a ${typeof other}`;
  return 'an object that is not a live Secret (a copy of one, a Buffer?)';
}
