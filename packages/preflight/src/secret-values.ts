// Judges literal values without ever returning them: callers get a label, never the text.

interface DemoPattern {
  readonly label: string;
  readonly test: (normalized: string) => boolean;
}

const exact = (label: string, ...values: string[]): DemoPattern => ({ label, test: (v) => values.includes(v) });

// Values copied from READMEs, tutorials and framework scaffolds. As a fallback they are worse than a
// random literal: they are public, so anyone can forge a token signed with them.
const DEMO_PATTERNS: readonly DemoPattern[] = [
  exact('express-session README example', 'keyboard cat'),
  {
    label: 'jwt.io example key',
    test: (v) => v.startsWith('your-256-bit-secret') || v.startsWith('your-512-bit-secret'),
  },
  { label: 'AWS documentation example key', test: (v) => v.endsWith('example') && /^(akia|asia)[a-z0-9]{12,}/.test(v) },
  { label: 'AWS documentation example secret', test: (v) => v.startsWith('wjalrxutnfemi/k7mdeng') },
  { label: 'Django startproject key', test: (v) => v.startsWith('django-insecure-') },
  { label: 'placeholder (change me)', test: (v) => /change[\s._-]?(me|this|it)|replace[\s._-]?(me|this)/.test(v) },
  { label: 'placeholder (your ... here)', test: (v) => /^your[\s._-].*[\s._-]here$/.test(v) || /^<.*>$/.test(v) },
  { label: 'placeholder (xxx / todo)', test: (v) => /^(x{3,}|todo|tbd|fixme|placeholder|\*+)$/.test(v) },
  exact(
    'common demo secret',
    'secret',
    'secrets',
    'mysecret',
    'my-secret',
    'my_secret',
    'secretkey',
    'secret-key',
    'secret_key',
    'mysecretkey',
    'supersecret',
    'super-secret',
    'supersecretkey',
    'supersecretkey123',
    'topsecret',
    'shhhhh',
    'shhh',
    'dev-secret',
    'dev_secret',
    'devsecret',
    'development',
    'dev',
    'test',
    'testing',
    'test-secret',
    'default',
    'example',
    'sample',
    'demo',
    'local',
    'insecure',
    'notasecret',
    'jwt-secret',
    'jwt_secret',
    'jwtsecret',
    'session-secret',
    'my-client-secret',
    'client-secret',
  ),
  exact(
    'default credential',
    'password',
    'password1',
    'password123',
    'passw0rd',
    'p@ssw0rd',
    'admin',
    'admin123',
    'administrator',
    'root',
    'toor',
    'postgres',
    'mysql',
    'guest',
    'user',
    'letmein',
    'qwerty',
    '123456',
    '12345678',
    '123456789',
    'hunter2',
    'changeit',
    'minioadmin',
    'redis',
    'pass',
    'abc123',
  ),
];

/**
 * The label of the public demo value `value` is, or `undefined`. The label never contains the value.
 *
 * @example
 * ```ts
 * demoValueLabel('keyboard cat'); // 'express-session README example'
 * ```
 */
export function demoValueLabel(value: string): string | undefined {
  const normalized = value.trim().toLowerCase();
  if (normalized.length === 0) return undefined;
  for (const pattern of DEMO_PATTERNS) if (pattern.test(normalized)) return pattern.label;
  return undefined;
}

/**
 * Whether a literal is a password/secret hash rather than the secret (`$2b$…`, `$argon2id$…`, `scrypt:…`).
 *
 * @example
 * ```ts
 * isHashShaped('$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'); // true
 * ```
 */
export function isHashShaped(value: string): boolean {
  return (
    /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{50,60}$/.test(value) ||
    /^\$argon2(id|i|d)\$/.test(value) ||
    /^\$(scrypt|pbkdf2[-_a-z0-9]*|[56]|y|gy|7)\$/.test(value) ||
    /^(scrypt|pbkdf2(_sha\d+)?|sha(256|512)|bcrypt|argon2):/i.test(value) ||
    /^pbkdf2_sha\d+\$\d+\$/.test(value) ||
    /^\{(SSHA|SSHA256|SSHA512|PBKDF2[-A-Z0-9]*|ARGON2|CRYPT)\}/.test(value)
  );
}

/** Whether a value looks like a digest (hex or base64 of at least 128 bits): fine in a `*_hash` column. */
export function isDigestShaped(value: string): boolean {
  return /^[a-f0-9]{32,}$/i.test(value) || /^[A-Za-z0-9+/_-]{22,}={0,2}$/.test(value);
}

/** Whether a URL literal embeds a password (`postgres://user:pass@host`). */
export function hasUrlCredentials(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i.test(value);
}
