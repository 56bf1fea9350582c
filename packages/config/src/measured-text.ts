import { createPrivateKey, createPublicKey, type JsonWebKey, X509Certificate } from 'node:crypto';
import { hasSurroundingWhitespace } from './character-patterns.ts';
import { isDemoSigned, isUnsignedJws, jwsSignature } from './compact-jws.ts';
import { type BundleField, bundleFields } from './credential-bundle.ts';
import { type EncodedText, pemBodyTexts, printableText, sniffedTexts } from './secret-encoding.ts';

/**
 * What the entropy and pattern rules of `assessSecret` measure. A secret in a format — a PEM key,
 * a JSON credential bundle — carries its format's repetitions (armor lines, keys and quotes),
 * which say nothing about the secret; so it is measured by its contents, wherever it is found: as
 * written, or as the text a hex/base64/base64url value decodes to (declared or sniffed). Hex
 * doubles every repeat of the text it encodes and base64 repeats some of them, depending on
 * alignment: measured as written, one bundle was refused in hex and accepted in base64.
 */
export interface MeasuredText {
  /** Each read by the entropy and distinct-character rules. */
  readonly wholes: readonly string[];
  /** Each read by the repeated-pattern and sequential rules. */
  readonly parts: readonly string[];
  /**
   * Byte lengths that must each reach the length floor: a PEM key's body (not its armor), each
   * secret of a bundle on its own (a random `client_id` does not lengthen a short `client_secret`).
   */
  readonly lengths: readonly number[];
  /**
   * Byte lengths of the passwords a bundle's URLs and connection strings carry: each must reach a
   * password's floor, or the kind's when lower (see {@link BundleField.carried}).
   */
  readonly carriedLengths?: readonly number[];
  /**
   * Those passwords, each read by the entropy and distinct-character rules with a password's
   * minimums, or the kind's when lower (not in `wholes`).
   */
  readonly carriedWholes?: readonly string[];
  /**
   * The signatures of JWTs (the value itself, or a bundle's secret), each judged by its `alg`'s
   * signature size (see `jwsSignatureBytes` in compact-jws.ts), as a signature's size is its algorithm's (32
   * bytes for HS256), not a measure of the token's strength.
   */
  readonly signatures?: readonly SignatureLength[];
  /**
   * True when the value, or a bundle's secret, is an unsigned JWT (`alg: none` in any case, or an
   * empty signature): a token anyone can forge, with nothing to measure.
   */
  readonly unsignedJwt?: boolean;
  /**
   * True when the value, or a bundle's secret, is an HS256/384/512 JWT signed with a documented
   * demo key (see `JWT_DEMO_KEYS` in known-demo-secrets.ts): jwt.io's default token is `known-demo`, whatever its claims.
   */
  readonly demoSigned?: boolean;
  /** Further texts the word rules read, and how (see {@link WordReading}). */
  readonly readings: readonly Reading[];
  /**
   * True when the value itself is a JWT (also encoded or pasted with a line break): every rule it
   * breaks is its issuer's to fix, not fixed by generating a random value.
   */
  readonly jwt?: boolean;
  /**
   * What a bundle's JWTs are measured by, apart from its other secrets (which a rule broken there
   * is found in decides the advice): their signatures for the entropy and distinct-character rules
   * (`wholes`; `carriedWholes` for a JWT a URL or `Basic` value carries as its password, with a
   * password's minimums as {@link carriedWholes}), the signatures and their bytes for the pattern
   * rules (`parts`), and the tokens and signature texts for the word rules (`readings`). Their
   * lengths are in {@link signatures}.
   */
  readonly jwts?: {
    readonly wholes: readonly string[];
    readonly carriedWholes: readonly string[];
    readonly parts: readonly string[];
    readonly readings: readonly Reading[];
  };
  /**
   * True when a bundle's secret starts or ends with whitespace (the rule a secret given alone gets).
   * Whether that secret is a JWT changes no advice: the fix is to remove the whitespace there.
   */
  readonly padded?: boolean;
  /**
   * True when `value` is, or encodes, a PEM block or a JSON bundle: text a tool wrote, whose words
   * (in random base64, in key names) are chance or format, so it is read only for known values.
   */
  readonly structured: boolean;
  /** The text that parsed as a bundle: its keys are the format, read only for the dev marker. */
  readonly bundle?: string;
}

/**
 * How the word rules read a text. `as-written`: every rule. `sniffed`: decoded from an encoding
 * nobody declared, only the rules that recognise a known value. `field`: a bundle value under a
 * key that does not name a secret (`username`, `host`, `type`): only the dev marker, demo keys
 * long or distinctive enough (`sk_test_…`) and unmistakable placeholder shapes (`${NAME}`,
 * `<your-…>`, `xxxx`, `change-me`), not `postgres`, `localhost` or `dev`, which are ordinary
 * values there (a username beside a URL's password is one: `secure-deploy`, `ops@acme.io`).
 */
export type WordReading = 'as-written' | 'sniffed' | 'field';

/** A JWT signature's length in bytes, and the `alg` its header names. */
export interface SignatureLength {
  readonly alg: string;
  readonly bytes: number;
}

/** A text for the word rules. */
export interface Reading {
  readonly text: string;
  readonly reading: WordReading;
}

/** The contents of `value` (or of the first text it encodes that is a PEM key or a JSON bundle). */
export function measuredText(value: string, texts: readonly EncodedText[]): MeasuredText {
  const candidates = [value, ...texts.map((encoded) => encoded.text)];
  for (const text of candidates) {
    const block = pemBlock(text);
    if (block === undefined) continue;
    // A public key or a certificate is not a secret, however random its body: measured as the
    // text it is, where BEGIN and END repeat (` PUBLIC KEY-----`), so it is refused in every encoding.
    if (!PRIVATE_KEY_LABEL.test(block.label))
      return { wholes: [text], parts: [text], lengths: [], readings: [], structured: true };
    const key = privateKeyBody(block.label, block.body);
    return {
      wholes: [block.body, ...key.members],
      parts: key.structured ? key.members : [block.body],
      lengths: [Buffer.byteLength(block.body, 'base64')],
      readings: key.readings,
      structured: true,
    };
  }
  for (const text of candidates) {
    const fields = bundleFields(text);
    if (fields !== undefined) return measuredBundle(text, fields);
  }
  const jwt = jwtIn(candidates);
  if (jwt !== undefined) return measuredJwt(jwt);
  return { wholes: [value], parts: [value], lengths: [], readings: [], structured: false };
}

/**
 * A JWT given alone (a Kubernetes service-account token, a Vault Kubernetes-auth JWT, an
 * `id_token`) is measured by its signature, as a bundle's is (see {@link jwtIn}). The whole value
 * is structured text, still read for known values (Supabase's demo JWTs) and placeholder shapes.
 */
function measuredJwt(jwt: FoundJwt): MeasuredText {
  if (jwt.unsigned)
    return { wholes: [], parts: [], lengths: [], readings: [], structured: true, unsignedJwt: true, jwt: true };
  return {
    jwt: true,
    wholes: [jwt.signature],
    parts: [jwt.signature, jwt.bytes].filter((part) => part.length >= MIN_PATTERN_VALUE),
    lengths: [],
    signatures: [jwt.length],
    readings: jwt.readings,
    structured: true,
    demoSigned: jwt.demoSigned,
  };
}

/** A JWT {@link jwtIn} found: unsigned, or its signature as the rules read it. */
type FoundJwt =
  | { readonly unsigned: true }
  | {
      readonly unsigned: false;
      /** The signature in base64url, read by the entropy and distinct-character rules. */
      readonly signature: string;
      /** The signature's bytes, one character a byte, for the repeated-pattern and sequential rules. */
      readonly bytes: string;
      /** The signature's length, judged by its `alg`'s size. */
      readonly length: SignatureLength;
      /** True when a documented demo key signed it (see {@link isDemoSigned}). */
      readonly demoSigned: boolean;
      /** The signature, and the printable text its bytes are, for the word rules. */
      readonly readings: readonly Reading[];
    };

/**
 * The JWT among `candidates`: a value given alone or as a bundle's secret, then the texts it
 * decodes to (its base64 or hex: a kubectl Secret's `data:`), each without surrounding whitespace
 * (a token pasted with its line break is the same token; `surrounding-whitespace` reports a lone
 * value's break). A JWT is as strong as its signature: its header and payload repeat by format (a
 * projected token's `iss` and `aud`, Google's `azp` and `aud`). The signature is read as base64url
 * by the entropy and distinct-character rules, as bytes by the pattern rules (a person can write a
 * signing key's text there, `ThisIsMySigningKey…`, `abcdefgh…`, which its base64url hides), and the
 * printable text those bytes are by every word rule; as written by every word rule too when a
 * person could have typed it (`insecure_test_signature_…`). Undefined when no candidate is a JWT.
 */
function jwtIn(candidates: readonly string[]): FoundJwt | undefined {
  for (const candidate of candidates) {
    const jws = jwsSignature(candidate.trim());
    if (jws === undefined) continue;
    if (isUnsignedJws(jws)) return { unsigned: true };
    const signed = Buffer.from(jws.signature, 'base64url');
    const text = printableText(signed);
    return {
      unsigned: false,
      signature: jws.signature,
      bytes: signed.toString('latin1'),
      length: { alg: jws.alg, bytes: signed.length },
      demoSigned: isDemoSigned(jws, signed),
      readings: [
        { text: jws.signature, reading: secretReading(jws.signature, undefined) },
        ...(text === undefined ? [] : [{ text, reading: 'as-written' } as const]),
      ],
    };
  }
  return undefined;
}

/** What {@link privateKeyBody} found in a private key's body. */
interface PrivateKeyBody {
  /** True for a key structure, whose body the pattern rules do not read. */
  readonly structured: boolean;
  readonly readings: readonly Reading[];
  /**
   * The private members (`d`, `p`, `q`, `dp`, `dq`, `qi`) in base64url of a key node:crypto reads
   * without a passphrase, measured like a JWK's, pattern rules included: a repeated Ed25519 seed
   * is as weak in PKCS#8 as in a JWK.
   */
  readonly members: readonly string[];
}

const PRIVATE_KEY_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

/**
 * The private members of a PEM private key node:crypto parses without a passphrase; undefined for
 * an encrypted, OpenSSH or malformed key, or a type without a JWK form (DSA). Node's error, which
 * may quote the key, is dropped.
 */
function privateKeyMembers(label: string, body: string): string[] | undefined {
  let jwk: JsonWebKey;
  try {
    const pem = `-----BEGIN ${label}-----\n${body.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
    jwk = createPrivateKey({ key: pem, format: 'pem' }).export({ format: 'jwk' });
  } catch {
    return undefined;
  }
  const members = PRIVATE_KEY_MEMBERS.map((member) => jwk[member]).filter(
    (member): member is string => typeof member === 'string',
  );
  return members.length > 0 ? members : undefined;
}

/**
 * What the body of a private key is. A key structure — a DER SEQUENCE as long as the body (PKCS#1,
 * SEC 1, PKCS#8, encrypted PKCS#8) or OpenSSH's `openssh-key-v1` — repeats by format (PBES2's OIDs
 * share `GCSqGSIb`, an OpenSSH key has zero-length fields and holds its public key twice), so the
 * pattern rules do not read it; entropy and length still do. A key node:crypto can read is
 * measured by its private members too, with every pattern rule. A body that decodes to printable
 * text is not a key but text in armor, read with every word rule.
 */
function privateKeyBody(label: string, body: string): PrivateKeyBody {
  const content = keyContent(Buffer.from(body, 'base64'));
  // Text behind a well-formed DER or OpenSSH header is text too: the header must not hide it.
  const texts = pemBodyTexts(body);
  const [text, ...inner] = texts.length > 0 || content === undefined ? texts : pemBodyTexts(content.toString('base64'));
  if (text !== undefined)
    return {
      structured: false,
      readings: [
        { text, reading: 'as-written' },
        ...inner.map((encoded): Reading => ({ text: encoded, reading: 'sniffed' })),
      ],
      members: [],
    };
  if (content === undefined) return { structured: false, readings: [], members: [] };
  return { structured: true, readings: [], members: privateKeyMembers(label, body) ?? [] };
}

const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0');

/**
 * What follows the header of a key structure — a DER SEQUENCE whose encoded length is exactly the
 * rest of `bytes`, or OpenSSH's `openssh-key-v1` magic — or undefined when `bytes` is neither.
 */
function keyContent(bytes: Buffer): Buffer | undefined {
  if (bytes.length > OPENSSH_MAGIC.length && bytes.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC))
    return bytes.subarray(OPENSSH_MAGIC.length);
  if (bytes.length < 2 || bytes[0] !== 0x30) return undefined;
  const first = bytes[1] as number;
  if (first < 0x80) return bytes.length === 2 + first ? bytes.subarray(2) : undefined;
  // Long form, DER: 1 to 4 length bytes, no leading zero, and only for lengths over 127.
  const count = first & 0x7f;
  if (count < 1 || count > 4 || bytes.length < 2 + count || bytes[2] === 0) return undefined;
  const length = bytes.readUIntBE(2, count);
  return length > 127 && bytes.length === 2 + count + length ? bytes.subarray(2 + count) : undefined;
}

/**
 * A bundle with secret-like keys is measured by those values, each on its own: the others (ids,
 * emails, URLs) may be long and random without making a short `client_secret` strong. The pattern
 * rules read the secret values only: the others may be sequential or repeated (`client_id:
 * "1234567890"`, a `scope` of URLs, a kubectl annotation repeating the manifest) without making a
 * strong secret weak; a certificate or public key is not read by them even as a secret, as its DER
 * holds its issuer's name and key identifier twice. Without a secret, every value is measured
 * together, as nothing says which is the secret.
 */
function measuredBundle(bundle: string, fields: readonly BundleField[]): MeasuredText {
  const all: string[] = [];
  const secrets: string[] = [];
  const lengths: number[] = [];
  const carriedLengths: number[] = [];
  const carriedWholes: string[] = [];
  const signatures: SignatureLength[] = [];
  let unsignedJwt = false;
  let demoSigned = false;
  const readings: Reading[] = [];
  const patterned: string[] = [];
  const secretPatterned: string[] = [];
  const jwts = {
    wholes: [] as string[],
    carriedWholes: [] as string[],
    parts: [] as string[],
    readings: [] as Reading[],
  };
  let padded = false;
  for (const { value, secret, bytes, text, carried } of fields) {
    // A PEM key in a bundle (`private_key`), or the base64 of one (kubeconfig's `client-key-data`),
    // is measured, and its length floor judged, by its body; so is a certificate beside it, which
    // is the bundle's format, not its secret.
    const direct = pemBlock(value);
    // The texts the value decodes to, when it is no PEM itself: read once, for a PEM in them and for the word rules.
    const sniffed = direct === undefined ? sniffedTexts(value) : [];
    const block = direct ?? sniffed.map(pemBlock).find((found) => found !== undefined);
    const body = block?.body;
    const key =
      block !== undefined && PRIVATE_KEY_LABEL.test(block.label) ? privateKeyBody(block.label, block.body) : undefined;
    // A secret JWT (as written, encoded or newline-ended) is measured by its signature, as one given alone.
    const jwt = secret && block === undefined ? jwtIn([value, ...sniffed]) : undefined;
    const signed = jwt?.unsigned === false ? jwt : undefined;
    // Whitespace around a secret is a copy-paste artefact, as around one given alone; a PEM block's
    // line breaks are its format (a GCP key file's `private_key` ends with one).
    if (secret && direct === undefined && hasSurroundingWhitespace(value)) padded = true;
    const content = signed?.signature ?? body ?? value;
    all.push(content);
    const members = key?.members ?? [];
    const measured = [
      ...(key?.structured === true ? members : [content, ...members]),
      ...(signed === undefined ? [] : [signed.bytes]),
    ];
    patterned.push(...measured);
    // A signed JWT (only ever a secret's) is judged by its signature's length, carried or not.
    if (signed !== undefined) {
      signatures.push(signed.length);
      if (signed.demoSigned) demoSigned = true;
    }
    if (jwt?.unsigned === true) unsignedJwt = true;
    else if (signed !== undefined) {
      // A JWT's signature: measured as a lone token's, apart from the bundle's other secrets; one a
      // URL or `Basic` value carries as its password by a password's minimums, as any it carries.
      (carried === true ? jwts.carriedWholes : jwts.wholes).push(content);
      jwts.parts.push(...measured);
    } else if (secret) {
      if (block === undefined || key !== undefined || !isPublicMaterial(block.body)) secretPatterned.push(...measured);
      (carried === true ? carriedWholes : secrets).push(content, ...members);
      (carried === true ? carriedLengths : lengths).push(
        bytes ?? (body === undefined ? Buffer.byteLength(value, 'utf8') : Buffer.byteLength(body, 'base64')),
      );
    }
    if (value.length === 0) continue;
    // A JWT's texts are the token's: what the word rules find there is its issuer's to fix.
    const read = jwt === undefined ? readings : jwts.readings;
    read.push({ text: value, reading: secret ? secretReading(value, body) : 'field' });
    // A hand-typed signature (`insecure_test_signature_…`) is read as such in a long token too.
    if (signed !== undefined) read.push(...signed.readings);
    // A JWK member's text: base64url is its declared encoding.
    if (text !== undefined) readings.push({ text, reading: 'as-written' });
    // A secret private key's body texts are read as the key reads them (the first with every rule).
    if (key !== undefined && secret) readings.push(...key.readings);
    else
      for (const text of body === undefined ? sniffed : pemBodyTexts(body))
        read.push({ text, reading: secret ? 'sniffed' : 'field' });
  }
  // Whether the bundle holds a secret: then only secrets are measured; else, every value together.
  const hasSecret = secrets.length > 0 || carriedWholes.length > 0 || unsignedJwt || signatures.length > 0;
  return {
    // An empty secret is refused as too short; it has no characters to measure.
    wholes: hasSecret ? secrets.filter((secret) => secret.length > 0) : [all.join('')],
    // A short value (`"version":"11"`) is too short to be a pattern by itself.
    parts: (hasSecret ? secretPatterned : patterned).filter((part) => part.length >= MIN_PATTERN_VALUE),
    lengths,
    carriedLengths,
    carriedWholes: carriedWholes.filter((secret) => secret.length > 0),
    signatures,
    unsignedJwt,
    demoSigned,
    readings,
    jwts: { ...jwts, parts: jwts.parts.filter((part) => part.length >= MIN_PATTERN_VALUE) },
    padded,
    structured: true,
    bundle,
  };
}

// A secret value longer than this (a JWT, a PEM key) is read like sniffed text, for known values
// only: a long random value spells a weak word by chance (`DUmMy`), and a person does not type one.
const MAX_WORDS_VALUE = 128;

/** How the word rules read a bundle value under a secret-like key: as a secret given alone, when a person could have typed it. */
function secretReading(value: string, body: string | undefined): WordReading {
  return body === undefined && value.length <= MAX_WORDS_VALUE ? 'as-written' : 'sniffed';
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
 * True when the body of a PEM block not labelled a private key is a certificate or a public key
 * node:crypto parses: its DER repeats by format. Any other body, whatever its label (`HMAC KEY`, a
 * `CERTIFICATE` that is not one), is read by the pattern rules. Node's error, which may quote the
 * body, is dropped.
 */
function isPublicMaterial(body: string): boolean {
  const der = Buffer.from(body, 'base64');
  try {
    return new X509Certificate(der).raw.length > 0;
  } catch {}
  for (const type of ['spki', 'pkcs1'] as const)
    try {
      return createPublicKey({ key: der, format: 'der', type }).type === 'public';
    } catch {}
  return false;
}

// The labels of private keys: `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, `RSA`/`EC`/`DSA`/`OPENSSH PRIVATE KEY`.
const PRIVATE_KEY_LABEL = /^(?:[A-Z0-9]+ ){0,2}PRIVATE KEY$/;

/** A single PEM block, any label, without headers or behind a legacy encrypted key's. */
function pemBlock(text: string): { readonly label: string; readonly body: string } | undefined {
  const trimmed = text.trim();
  const block = PEM_BLOCK.exec(trimmed) ?? ENCRYPTED_PEM_BLOCK.exec(trimmed);
  return block === null ? undefined : { label: block[1] as string, body: (block[2] as string).replace(/\r?\n/g, '') };
}

// The shortest bundle value the repeated-pattern and sequential rules read on its own (the run
// `sequential` looks for is 8 characters long); shorter ones count towards the entropy only.
const MIN_PATTERN_VALUE = 8;
