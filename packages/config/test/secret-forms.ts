import { randomBytes } from 'node:crypto';
import { type AssessSecretOptions, assessSecret } from '../src/weak-secret.ts';

/** The encodings a secret can be declared in (and is sniffed in when undeclared). */
export const ENCODINGS = ['hex', 'base64', 'base64url'] as const;

/** The rules that measure a value's strength, as opposed to the ones that recognise known values. */
export const PATTERN_RULES = /^(?:too-short|low-entropy|few-distinct-characters|repeated-pattern|sequential)$/;

/**
 * A seeded generator (mulberry32) for the sampled properties. A random value spells a weak word or
 * a placeholder by chance (`DUmMy` in base64, `Du&MMy` or `${fy23l}` in a printable password):
 * about 1 in 375 000 base64 keys and 1 in 150 000 such passwords, which the rules flag by design.
 * Unseeded, a 10 000-password sample failed about one run in 15; seeded, each run checks the same
 * values, and a change to the rules that rejects one of them is caught.
 */
export function seeded(seed: number): (below: number) => number {
  let a = seed >>> 0;
  return (below) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** The value as written, then in each encoding, undeclared (sniffed) and declared. */
export function everyForm(
  text: string,
  options: AssessSecretOptions = { kind: 'key' },
): [string, AssessSecretOptions][] {
  return [
    [text, options],
    ...ENCODINGS.flatMap((encoding): [string, AssessSecretOptions][] => [
      [Buffer.from(text).toString(encoding), options],
      [Buffer.from(text).toString(encoding), { ...options, encoding }],
    ]),
  ];
}

/** Each form of `bundle` (as written, then hex/base64/base64url sniffed and declared) and what it is judged. */
export function judged(bundle: unknown): [string, ReturnType<typeof assessSecret>][] {
  const json = JSON.stringify(bundle);
  return everyForm(json).map(([value, options]) => [
    `${json.slice(0, 160)} ${options.encoding}`,
    assessSecret(value, options),
  ]);
}

/** A PEM block: `label` armor around `body` in lines of `width`, with RFC 1421 `headers` first. */
export function armor(label: string, body: string, { headers = '', width = 64 } = {}): string {
  const lines = body.replace(new RegExp(`.{${width}}`, 'g'), '$&\n').trimEnd();
  return `-----BEGIN ${label}-----\n${headers}${lines}\n-----END ${label}-----\n`;
}

/** A GCP service-account key file around `privateKey` (a PEM), as the console downloads it. */
export function gcpServiceAccount(privateKey: string): Record<string, unknown> {
  return {
    type: 'service_account',
    project_id: 'acme-prod-4821',
    private_key_id: seededBytes(seeded(0x5330), 20).toString('hex'),
    private_key: privateKey,
    client_email: 'deployer@acme-prod-4821.iam.gserviceaccount.com',
    client_id: '104857203948571029384',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url:
      'https://www.googleapis.com/robot/v1/metadata/x509/deployer%40acme-prod-4821.iam.gserviceaccount.com',
    universe_domain: 'googleapis.com',
  };
}

/** `bytes` random bytes in base64url: a strong value. */
export const random = (bytes: number): string => randomBytes(bytes).toString('base64url');

/** `length` bytes drawn from `next` (a {@link seeded} generator): random-looking, the same every run. */
export function seededBytes(next: (below: number) => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => next(256)));
}
