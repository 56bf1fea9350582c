// The Observatory's Content-Security-Policy test (`src/analyzer/tests/csp.js`), offline: headers only.

const DANGEROUSLY_BROAD = new Set([
  'ftp:',
  'http:',
  'https:',
  '*',
  'http://*',
  'http://*.*',
  'https://*',
  'https://*.*',
]);
const UNSAFE_INLINE = new Set(["'unsafe-inline'", 'data:']);
const BROAD_OR_INLINE = new Set([...DANGEROUSLY_BROAD, ...UNSAFE_INLINE]);
const NONCE_HASH = ["'sha256-", "'sha384-", "'sha512-", "'nonce-"];
const ALLOWED_DUPLICATES = new Set(['report-uri', 'report-to']);

class InvalidCsp extends Error {}

/** The Observatory's CSP parser, for one policy list (no meta tags offline). */
function parseCsp(policies: readonly string[]): { csp: Map<string, Set<string>>; duplicates: boolean } {
  const csp = new Map<string, Set<string>>();
  let duplicates = false;
  policies.forEach((raw, index) => {
    const policy = raw.replace(/[\r\n]/g, '').trim();
    if (policy.length < 'img-src'.length - 1) throw new InvalidCsp();
    const seen = new Set<string>();
    for (const entry of policy.split(';')) {
      const [rawName, ...values] = entry.trim().split(/\s+/);
      if (!rawName) continue;
      const name = rawName.toLowerCase();
      if (seen.has(name)) {
        // report-uri/report-to may repeat (the later one wins, as in the Observatory); others may not.
        if (ALLOWED_DUPLICATES.has(name)) duplicates = true;
        else throw new InvalidCsp();
      }
      seen.add(name);
      const sources =
        values.length > 0 ? values.map((v) => v.trim().toLowerCase()) : name.endsWith('-src') ? ["'none'"] : [];
      if (index === 0 || !csp.has(name)) {
        // The first policy, or a directive only in a later policy, restricts on its own.
        csp.set(name, new Set(sources));
      } else {
        // Several policies: a source must be allowed by every one that names the directive.
        const prev = csp.get(name) as Set<string>;
        const both = [...prev].filter((s) => sources.includes(s));
        csp.set(name, new Set(both.length > 0 ? both : ["'none'"]));
      }
    }
  });
  return { csp, duplicates };
}

export function cspTest(h: Map<string, string[]>, https: boolean): { result: string; frameAncestors: boolean } {
  const policies = (h.get('content-security-policy') ?? []).flatMap((v) => v.split(',').map((s) => s.trim()));
  if (policies.length === 0) {
    return {
      result: h.has('content-security-policy-report-only')
        ? 'csp-not-implemented-but-reporting-enabled'
        : 'csp-not-implemented',
      frameAncestors: false,
    };
  }
  let parsed: ReturnType<typeof parseCsp>;
  try {
    parsed = parseCsp(policies);
  } catch {
    return { result: 'csp-header-invalid', frameAncestors: false };
  }
  const { csp } = parsed;
  if (csp.size === 0) return { result: 'csp-not-implemented', frameAncestors: false };
  let result: string | null = null;
  // These alias the parsed sets on purpose: the Observatory edits script-src in place, so with no
  // script-src its 'strict-dynamic' clean-up also changes default-src and everything falling back to it.
  const objectSrc = csp.get('object-src') ?? csp.get('default-src') ?? new Set(['*']);
  const scriptSrc = csp.get('script-src') ?? csp.get('default-src') ?? new Set(['*']);
  const styleSrc = csp.get('style-src') ?? csp.get('default-src') ?? new Set(['*']);
  const hasNonceHash = (s: Set<string>): boolean => [...s].some((src) => NONCE_HASH.some((p) => src.startsWith(p)));
  for (const list of [scriptSrc, styleSrc]) if (hasNonceHash(list)) list.delete("'unsafe-inline'");
  if (hasNonceHash(scriptSrc) && scriptSrc.has("'strict-dynamic'")) {
    for (const src of [...scriptSrc]) {
      if ([...DANGEROUSLY_BROAD].some((b) => src.startsWith(b)) || src === "'self'" || src === "'unsafe-inline'") {
        scriptSrc.delete(src);
      }
    }
  } else if (scriptSrc.has("'strict-dynamic'")) {
    result = 'csp-header-invalid';
  }
  const active = [...csp.entries()]
    .filter(([d]) => d !== 'img-src' && d !== 'media-src' && d !== 'script-src')
    .flatMap(([, s]) => [...s]);
  active.push(...scriptSrc);
  const passive = ['img-src', 'media-src'].flatMap((d) => [...(csp.get(d) ?? csp.get('default-src') ?? [])]);
  const insecure = (s: string): boolean => s.startsWith('http:') || s.startsWith('ftp:');
  if ([...scriptSrc].some((s) => BROAD_OR_INLINE.has(s)) || [...objectSrc].some((s) => DANGEROUSLY_BROAD.has(s))) {
    result ??= 'csp-implemented-with-unsafe-inline';
  }
  if (https && active.some(insecure)) result ??= 'csp-implemented-with-insecure-scheme';
  if (scriptSrc.has("'unsafe-eval'") || styleSrc.has("'unsafe-eval'")) result ??= 'csp-implemented-with-unsafe-eval';
  if (https && passive.some(insecure)) result ??= 'csp-implemented-with-insecure-scheme-in-passive-content-only';
  if ([...styleSrc].some((s) => BROAD_OR_INLINE.has(s)))
    result ??= 'csp-implemented-with-unsafe-inline-in-style-src-only';
  const defaultSrc = csp.get('default-src');
  if (defaultSrc?.has("'none'") && defaultSrc.size === 1) result ??= 'csp-implemented-with-no-unsafe-default-src-none';
  else result ??= 'csp-implemented-with-no-unsafe';
  const passed = [
    'csp-implemented-with-no-unsafe',
    'csp-implemented-with-no-unsafe-default-src-none',
    'csp-implemented-with-unsafe-inline-in-style-src-only',
    'csp-implemented-with-insecure-scheme-in-passive-content-only',
  ].includes(result);
  if (passed && parsed.duplicates) result = 'csp-implemented-but-duplicate-directives';
  return { result, frameAncestors: csp.has('frame-ancestors') };
}
