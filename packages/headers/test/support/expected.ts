/** The exact header sets the presets promise, written out by hand (lower-case names). */

export const API_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
  'cache-control': 'no-store',
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

const PERMISSIONS =
  'accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), sync-xhr=(self), usb=(), xr-spatial-tracking=()';

/** The web-app preset with its defaults; `N` stands for the response's nonce. */
export function webAppHeaders(nonce: string): Record<string, string> {
  return {
    'content-security-policy': `default-src 'self';script-src 'nonce-${nonce}' 'strict-dynamic';style-src 'self' 'nonce-${nonce}';object-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none';upgrade-insecure-requests`,
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'permissions-policy': PERMISSIONS,
    'referrer-policy': 'no-referrer',
    'strict-transport-security': 'max-age=63072000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-frame-options': 'DENY',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  };
}

/**
 * Any preset's download variant: a sandboxed, script-free CSP, always enforced (never Report-Only),
 * `Cache-Control: no-store` and X-Download-Options, whatever the base sends.
 */
export function downloadHeaders(base: Record<string, string>): Record<string, string> {
  const { 'content-security-policy-report-only': _reportOnly, ...rest } = base;
  return {
    ...rest,
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';sandbox",
    'x-download-options': 'noopen',
  };
}

/** The embeddable variant: frame-ancestors lists the partner, no X-Frame-Options, CORP cross-origin. */
export function widgetHeaders(base: Record<string, string>): Record<string, string> {
  const { 'x-frame-options': _xfo, ...rest } = base;
  return {
    ...rest,
    'content-security-policy': (base['content-security-policy'] ?? '').replace(
      "frame-ancestors 'none'",
      'frame-ancestors https://partner.example',
    ),
    'cross-origin-resource-policy': 'cross-origin',
  };
}

/** The OAuth-popup variant: COOP same-origin-allow-popups. */
export function oauthHeaders(base: Record<string, string>): Record<string, string> {
  return { ...base, 'cross-origin-opener-policy': 'same-origin-allow-popups' };
}

/** The nonce inside a CSP header value. */
export function nonceOf(csp: string | undefined): string {
  const match = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp ?? '');
  if (!match?.[1]) throw new Error('no nonce in the CSP');
  return match[1];
}
