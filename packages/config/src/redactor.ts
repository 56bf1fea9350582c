import { provenanceOf } from './config-object.ts';
import { Secret } from './secret.ts';

/** Values shorter than this are not scrubbed: they would match ordinary text. */
const MIN_SCRUB_LENGTH = 8;

/**
 * A last line of defence for logs: a function that replaces every occurrence of the config's
 * secret values (also JSON-escaped, and percent-encoded as in a URL, its userinfo or a form body,
 * with upper- or lower-case hex) in a string with `[REDACTED:NAME]`. It catches a value that
 * was `reveal()`ed and then concatenated into a message; `Secret` objects redact themselves anyway.
 *
 * @example
 * ```ts
 * import { pino } from 'pino';
 * import { createRedactor } from '@rampart/config';
 * import { config } from './config.ts';
 *
 * const logger = pino({ hooks: { streamWrite: createRedactor(config) } });
 * ```
 */
export function createRedactor(config: object): (text: string) => string {
  const replacements: { readonly needle: string; readonly label: string }[] = [];
  for (const entry of provenanceOf(config)) {
    if (!entry.secret || entry.source === 'unset') continue;
    const value: unknown = (config as Record<string, unknown>)[entry.key];
    if (!Secret.isSecret(value)) continue;
    const revealed = value.reveal();
    if (revealed.length < MIN_SCRUB_LENGTH) continue;
    const escaped = JSON.stringify(revealed).slice(1, -1);
    for (const needle of new Set([revealed, escaped, ...percentEncodings(revealed)]))
      replacements.push({ needle, label: value.redacted });
  }
  // Longest first, so a secret that contains another is replaced whole.
  replacements.sort((a, b) => b.needle.length - a.needle.length);
  return (text: string): string => {
    let out = text;
    for (const { needle, label } of replacements) {
      if (out.includes(needle)) out = out.split(needle).join(label);
    }
    return out;
  };
}

/**
 * How a value looks once put into a URL: a password in a connection string, a key in a query.
 * Base64 secrets (`+`, `/`, `=`) and passwords with symbols come out different from the raw value.
 */
function percentEncodings(value: string): string[] {
  // encodeURIComponent throws on a lone surrogate (the URL encoders would write U+FFFD instead).
  if (/\p{Surrogate}/u.test(value)) return [];
  const userinfo = new URL('http://host');
  userinfo.password = value;
  const forms = [encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2), userinfo.password];
  const lowerHex = forms.map((form) => form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  return [...forms, ...lowerHex].filter((form) => form !== value);
}
