/**
 * The path and query of an HTTP request target, as every adapter shows it to `key`, `skip` and
 * `cost`: origin form (`/orders?page=2`) as sent; absolute form (`http://host/orders?page=2`,
 * which Node's parser hands over as written and a client may send to any server) as the
 * `pathname` and `search` of its parsed URL, so `http://host/expensive` is matched as
 * `/expensive`. Anything else (asterisk form `*`, authority form `host:443`, an http(s) URL that
 * does not parse) has no path a function could match: undefined, and the middleware refuses the
 * request with 400 rather than let it pass as a path no rule names.
 *
 * Percent-encoding is left as it came (`/%65xpensive` stays so, while a router may serve it as
 * `/expensive`): a rule on `url` should decode it, or use the framework's route.
 *
 * @example
 * ```ts
 * requestPathAndQuery('http://example.com/orders?page=2'); // '/orders?page=2'
 * ```
 */
export function requestPathAndQuery(target: string): string | undefined {
  if (target.startsWith('/')) return target;
  if (!/^https?:\/\//i.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  return `${url.pathname}${url.search}`;
}
