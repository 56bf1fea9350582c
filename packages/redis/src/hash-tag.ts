const BRACE = /[{}]/;
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
