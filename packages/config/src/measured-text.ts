import type { EncodedText } from './secret-encoding.ts';

/**
 * What the entropy and pattern rules of `assessSecret` measure. A secret in a format — a PEM key,
 * a JSON credential bundle — carries its format's repetitions (armor lines, keys and quotes),
 * which say nothing about the secret; so it is measured by its contents, wherever it is found: as
 * written, or as the text a hex/base64/base64url value decodes to (declared or sniffed). Hex
 * doubles every repeat of the text it encodes and base64 repeats some of them, depending on
 * alignment: measured as written, one bundle was refused in hex and accepted in base64.
 */
export interface MeasuredText {
  /** Read by the entropy and distinct-character rules. */
  readonly whole: string;
  /** Each read by the repeated-pattern and sequential rules. */
  readonly parts: readonly string[];
  /** A PEM key's length in bytes (its body decoded), for the length floor; undefined for anything else. */
  readonly keyBytes?: number;
}

/** The contents of `value` (or of the first text it encodes that is a PEM key or a JSON bundle). */
export function measuredText(value: string, texts: readonly EncodedText[]): MeasuredText {
  for (const text of [value, ...texts.map((encoded) => encoded.text)]) {
    const body = pemBody(text);
    if (body !== undefined) return { whole: body, parts: [body], keyBytes: Buffer.byteLength(body, 'base64') };
  }
  for (const text of [value, ...texts.map((encoded) => encoded.text)]) {
    const values = bundleValues(text);
    // A short value (`"version":"11"`) is too short to be a pattern by itself.
    if (values !== undefined)
      return { whole: values.join(''), parts: values.filter((part) => part.length >= MIN_PATTERN_VALUE) };
  }
  return { whole: value, parts: [value] };
}

// RFC 1421 headers as OpenSSL writes them on a legacy encrypted key (`openssl genrsa -aes256`,
// node:crypto's pkcs1/sec1 with a `cipher`), and only on those labels: `Proc-Type: 4,ENCRYPTED`,
// `DEK-Info: <cipher>,<IV in hex>` (8-byte IV for DES, 16-byte for AES), a blank line. Any other
// header, order or label is not read as a PEM key: the block is measured as written, where its
// armor repeats, so headers cannot be used to hide a weak body.
const ENCRYPTION_HEADERS =
  'Proc-Type: 4,ENCRYPTED\\r?\\nDEK-Info: [A-Z0-9-]{1,32},(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})\\r?\\n\\r?\\n';
const BODY = '((?:[A-Za-z0-9+/=]{1,128}\\r?\\n)+)';
const PEM_BLOCK = new RegExp(`^-----BEGIN ([A-Z0-9 ]{1,64})-----\\r?\\n${BODY}-----END \\1-----$`);
const ENCRYPTED_PEM_BLOCK = new RegExp(
  `^-----BEGIN ((?:RSA|EC|DSA) PRIVATE KEY)-----\\r?\\n${ENCRYPTION_HEADERS}${BODY}-----END \\1-----$`,
);

/**
 * The base64 body of a PEM block (`-----BEGIN <label>-----`, base64 lines, `-----END <label>-----`),
 * line breaks removed, also behind the encryption headers of a legacy encrypted private key;
 * undefined for anything else. The armor is the format, not the secret: ` PRIVATE KEY-----` occurs
 * in both lines.
 */
export function pemBody(text: string): string | undefined {
  const trimmed = text.trim();
  const block = PEM_BLOCK.exec(trimmed) ?? ENCRYPTED_PEM_BLOCK.exec(trimmed);
  return block === null ? undefined : (block[2] as string).replace(/\r?\n/g, '');
}

// The shortest bundle value the repeated-pattern and sequential rules read on its own (the run
// `sequential` looks for is 8 characters long); shorter ones count towards the entropy only.
const MIN_PATTERN_VALUE = 8;

// Bounds on the walk: a credential bundle is small and shallow.
const MAX_BUNDLE_DEPTH = 8;
const MAX_BUNDLE_VALUES = 1000;

/**
 * The string values of a JSON object (a GCP service-account key, an OAuth client, a Docker
 * `config.json`), nested ones included and a PEM key replaced by its body; undefined for any other
 * text or one without a string value. The keys, quotes and punctuation are the format: they repeat
 * (`"client_` in `client_id` and `client_secret`) in every bundle.
 */
function bundleValues(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const values: string[] = [];
  const walk = (node: unknown, depth: number): boolean => {
    if (typeof node === 'string') {
      if (values.length >= MAX_BUNDLE_VALUES) return false;
      // An empty value would make `few-distinct-characters` read nothing; it carries nothing.
      if (node.length > 0) values.push(pemBody(node) ?? node);
      return true;
    }
    if (typeof node !== 'object' || node === null) return true;
    if (depth >= MAX_BUNDLE_DEPTH) return false;
    return Object.values(node).every((child) => walk(child, depth + 1));
  };
  return walk(parsed, 0) && values.length > 0 ? values : undefined;
}
