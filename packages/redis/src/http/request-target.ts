/**
 * The path and query of an HTTP request target, as every adapter shows it to `key`, `skip` and
 * `cost`: origin form (`/orders?page=2`) as sent; absolute form (`http://host/orders?page=2`,
 * which Node's parser hands over as written and a client may send to any server) as the text
 * after its authority, also as sent, so `http://host/expensive` is matched as `/expensive`.
 * Anything else (asterisk form `*`, authority form `host:443`, an http(s) URL that does not
 * parse, or one with no authority or a backslash in it, where URL parsers and routers disagree on
 * where the path starts) has no path a function could match: undefined, and the middleware
 * refuses the request with 400 rather than let it pass as a path no rule names.
 *
 * Nothing is normalised, in either form: dot segments stay (Express and Fastify route
 * `http://host/search/%2e%2e` by its raw path, to `/search/:q`, where the URL parser would make it
 * `/`), and percent-encoding is left as it came (`/%65xpensive` stays so, while a router may serve
 * it as `/expensive`): a rule on `url` should decode it, or use the framework's route.
 *
 * @example
 * ```ts
 * requestPathAndQuery('http://example.com/orders?page=2'); // '/orders?page=2'
 * ```
 */
export function requestPathAndQuery(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  const scheme = /^https?:\/\//i.exec(target);
  if (scheme === null) return undefined;
  // The authority ends where the WHATWG parser ends it for http(s): at / ? # or a backslash.
  const start = scheme[0].length;
  let end = start;
  while (end < target.length && !'/?#\\'.includes(target[end] as string)) end += 1;
  if (end === start || target[end] === '\\') return undefined;
  // Parsed only to refuse what is no URL (a bad host or port); what it normalises is not used.
  try {
    new URL(target);
  } catch {
    return undefined;
  }
  const rest = target.slice(end);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
