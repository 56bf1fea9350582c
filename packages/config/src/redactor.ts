import { provenanceOf } from './config-object.ts';
import { Secret } from './secret.ts';

/** Values shorter than this are not scrubbed: they would match ordinary text. */
const MIN_SCRUB_LENGTH = 8;

/**
 * A last line of defence for logs: a function that replaces every occurrence of the config's
 * secret values (also JSON-escaped) in a string with `[REDACTED:NAME]`. It catches a value that
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
    for (const needle of new Set([revealed, escaped])) replacements.push({ needle, label: value.redacted });
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
