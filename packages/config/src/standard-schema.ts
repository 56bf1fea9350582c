// The Standard Schema v1 interface (https://standardschema.dev), copied as its authors recommend so
// that zod, valibot, arktype and others work without a dependency on any of them.

/** A validator implementing Standard Schema v1 (zod ≥ 3.24, valibot ≥ 1, arktype ≥ 2, ...). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/**
 * True when `candidate` implements Standard Schema v1.
 *
 * @example
 * ```ts
 * import { isStandardSchema } from '@rampart/config';
 * import { z } from 'zod';
 * isStandardSchema(z.string()); // true
 * ```
 */
export function isStandardSchema(candidate: unknown): candidate is StandardSchemaV1 {
  if ((typeof candidate !== 'object' && typeof candidate !== 'function') || candidate === null) return false;
  const props = (candidate as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

/** A validator that broke the Standard Schema contract: `broken` says how, without its error. */
export interface BrokenValidator {
  readonly broken: string;
}

/** What {@link runValidator} gives back. */
export type ValidatorOutcome<Output> = StandardSchemaV1.Result<Output> | BrokenValidator;

/**
 * Calls `schema['~standard'].validate(value)`. A validator that throws, returns a rejected promise
 * or returns something that is not a result is reported as {@link BrokenValidator}; its error is
 * dropped (not kept as `cause` either), because validators put the input into their messages and
 * the input here is a configured value. Only the error's constructor name is kept. A promise is
 * returned only when the validator returned one (thenables included), and it never rejects.
 */
export function runValidator<Output>(
  schema: StandardSchemaV1<unknown, Output>,
  value: unknown,
  raw: string | undefined,
): ValidatorOutcome<Output> | Promise<ValidatorOutcome<Output>> {
  let result: unknown;
  try {
    result = schema['~standard'].validate(value);
    if (!isThenable(result)) return checkResult<Output>(result);
  } catch (error) {
    return { broken: `threw ${describeThrown(error, raw, value)} instead of returning issues` };
  }
  return Promise.resolve(result).then(
    (settled) => checkResult<Output>(settled),
    (error: unknown) => ({ broken: `returned a promise that rejected with ${describeThrown(error, raw, value)}` }),
  );
}

function isThenable(candidate: unknown): candidate is PromiseLike<unknown> {
  return (
    (typeof candidate === 'object' || typeof candidate === 'function') &&
    candidate !== null &&
    typeof (candidate as { then?: unknown }).then === 'function'
  );
}

/** A plain copy of a well-formed result, so no getter of the validator's runs later. */
function checkResult<Output>(result: unknown): ValidatorOutcome<Output> {
  try {
    if (typeof result === 'object' && result !== null) {
      const { issues, value } = result as { issues?: unknown; value?: unknown };
      if (issues === undefined) return { value: value as Output };
      if (Array.isArray(issues) && issues.every(isIssue)) return { issues: [...issues] };
    }
  } catch {
    // a getter that throws: as malformed as a missing result
  }
  return { broken: 'returned something that is not a Standard Schema result' };
}

function isIssue(issue: unknown): issue is StandardSchemaV1.Issue {
  if (typeof issue !== 'object' || issue === null) return false;
  const { message, path } = issue as { message?: unknown; path?: unknown };
  return typeof message === 'string' && (path === undefined || Array.isArray(path));
}

/** `a TypeError`, `an error`: the kind of what was thrown, never its message. */
function describeThrown(error: unknown, raw: string | undefined, value: unknown): string {
  try {
    if (!(error instanceof Error)) return 'a value that is not an Error';
    const name: unknown = Object.getPrototypeOf(error)?.constructor?.name;
    // A class name is code, not input, but a validator could build one from the value.
    if (
      typeof name !== 'string' ||
      !/^[A-Za-z_$][\w$]{0,63}$/.test(name) ||
      (raw !== undefined && quotesValue(name, raw, value))
    )
      return 'an error';
    return `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`;
  } catch {
    return 'an error'; // a Proxy or a getter that throws
  }
}

/**
 * Turns Standard Schema issues into text. Validators may quote the input in their messages, so a
 * message that contains any part of the value is withheld: any 4 characters of the raw text or of
 * `decoded` (what a parser made of it: `JSON.parse` turns `\u0073` into `s`, `1E3` into `1000`),
 * compared after case folding, NFKC normalization and whitespace collapsing, which validators may
 * apply before quoting.
 */
export function describeIssues(
  issues: ReadonlyArray<StandardSchemaV1.Issue>,
  raw: string,
  decoded: unknown = raw,
): string {
  const texts = issues.slice(0, 5).map((issue) => {
    const path = (issue.path ?? [])
      .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
      .map(String)
      .join('.');
    // Paths can be keys of the user's JSON document, so they are checked like the message.
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const quoted = quotingMessages(texts, raw, decoded);
  const parts = texts.map((text, i) => (quoted[i] ? '(issue withheld: it quotes the value)' : text));
  const more = issues.length > 5 ? ` (+${issues.length - 5} more)` : '';
  return `does not satisfy its schema: ${parts.join('; ')}${more}`;
}

/** The spellings of `text` a validator may print: as is and folded, both lower-cased. */
function spellings(text: string): string[] {
  const lower = text.toLowerCase();
  // Upper- then lower-casing folds `ß` to `ss`, as a validator that upper-cases would print it.
  const folded = text.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').replace(/\s+/g, ' ');
  return lower === folded ? [lower] : [lower, folded];
}

/** Every string, key, number and boolean in a parsed value (the parser's view of the raw text). */
function decodedTexts(decoded: unknown): string[] {
  const texts: string[] = [];
  const pending: unknown[] = [decoded];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') texts.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean' || typeof item === 'bigint')
      texts.push(String(item));
    else if (typeof item === 'object' && item !== null && !seen.has(item)) {
      seen.add(item);
      for (const [key, child] of Object.entries(item)) {
        if (!Array.isArray(item)) texts.push(key);
        pending.push(child);
      }
    }
  }
  if (typeof decoded === 'object' && decoded !== null) {
    try {
      texts.push(JSON.stringify(decoded)); // the document re-serialized without its escapes
    } catch {
      // not JSON-shaped: its pieces are in already
    }
  }
  return texts;
}

/** Keeps the 4-character pieces (`grams`) of the messages apart from the value's: never spans two texts. */
const SEPARATOR = '\u0000';

/**
 * For each message, whether it quotes the value. The value can be a 1 MiB document and there are
 * up to five messages, so the messages' pieces (few) go into one map and the value's spellings are
 * read once, not a set of the value's pieces built per message.
 */
function quotingMessages(messages: readonly string[], raw: string, decoded: unknown): boolean[] {
  const quoted = messages.map(() => false);
  const shown = messages.map(spellings);
  const value = raw.trim();
  const valueForms = spellings(value);
  // A whole value of 1-3 characters counts only as a word of its own, or most messages would match.
  for (const spelling of valueForms) {
    if (spelling.length === 0 || spelling.length > 3) continue;
    const word = new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(spelling)}($|[^\\p{L}\\p{N}])`, 'u');
    shown.forEach((forms, i) => {
      if (forms.some((form) => word.test(form))) quoted[i] = true;
    });
  }
  const grams = new Map<string, number[]>();
  shown.forEach((forms, i) => {
    if (quoted[i]) return;
    for (const form of forms)
      for (let at = 0; at + 4 <= form.length; at++) {
        const gram = form.slice(at, at + 4);
        if (gram.includes(SEPARATOR)) continue;
        const owners = grams.get(gram);
        if (owners === undefined) grams.set(gram, [i]);
        else if (owners.at(-1) !== i) owners.push(i);
      }
  });
  let open = quoted.filter((q) => !q).length;
  if (open === 0 || grams.size === 0) return quoted;
  const forms = decoded === raw ? valueForms : spellings([value, ...decodedTexts(decoded)].join(SEPARATOR));
  for (const spelling of forms) {
    for (let at = 0; at + 4 <= spelling.length; at++) {
      const owners = grams.get(spelling.slice(at, at + 4));
      if (owners === undefined) continue;
      for (const i of owners)
        if (!quoted[i]) {
          quoted[i] = true;
          open--;
        }
      if (open === 0) return quoted;
    }
  }
  return quoted;
}

function quotesValue(message: string, raw: string, decoded: unknown): boolean {
  return quotingMessages([message], raw, decoded)[0] === true;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
