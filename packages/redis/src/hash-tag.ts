const BRACE = /[{}]/;
const LONE_SURROGATE = /\p{Cs}/u;
const UNSAFE = /[%{}]/g;

/**
 * `%`, `{` and `}` percent-encoded (`%25`, `%7B`, `%7D`): text that can go inside or next to a
 * Redis Cluster hash tag without ending or opening one. Reversible, so distinct inputs stay
 * distinct.
 */
export function percentEncodeBraces(text: string): string {
  // Most texts need no escaping (rate-limit subjects on the hot path); the regex replace costs more.
  if (text.indexOf('{') === -1 && text.indexOf('}') === -1 && text.indexOf('%') === -1) return text;
  return text.replace(UNSAFE, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'));
}

/** Whether `text` holds a `{` or `}`, which would open or end a hash tag in a key. */
export function hasBrace(text: string): boolean {
  return BRACE.test(text);
}

/**
 * Whether `text` holds a lone UTF-16 surrogate (`\p{Cs}` matches only unpaired ones in a `u`
 * regex), what `String.prototype.isWellFormed` refuses. ioredis, UTF-8 and `crypto.hash` encode each
 * as U+FFFD, so `a\uD800`, `a\uDBFF` and `a\uFFFD` would share one key.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}
