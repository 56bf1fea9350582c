/**
 * The passwords a value carries whatever its key: in a `Basic <base64 of user:password>` value, in
 * a URL's userinfo or query, in a connection string's `Password=` parts, in a libpq keyword
 * string's `password=` / `sslpassword=` and in a Kafka JAAS line's `password="…"`. A bundle judges each as a secret of its own and the rest of the
 * value (a username beside a password included) as format.
 */
import { basicSecret, userinfoSecret } from './auth-scheme.ts';

// A password in a URL's userinfo (`postgres://app:…@db`, `redis://:…@redis`, `jdbc:mysql://app:…@db`;
// the username when the password is empty or GitHub's fixed `x-oauth-basic`, in any case:
// `https://ghp_…:x-oauth-basic@github.com`, `https://sk_live_…:@api.stripe.com`) or query
// (`?password=…`, an Azure SAS `&sig=…`), or a connection string's `Password=`, `Pwd=`, `Pass=`,
// `Passwd=`, `AccountKey=`, `SharedAccessKey=` or OLE DB's `Jet OLEDB:Database Password=` part
// (ADO.NET quotes one with `;` in it, doubling the quote inside; ODBC braces it, doubling `}`).
// Every part is scanned for; a quoted or braced value is read up to 256 characters (a longer one to
// its `;`): an unclosed `{` would otherwise be rescanned to the end from each later `Pwd={`, in square
// time, and a long quoted one takes a backtrack slot per character (8 MiB overflowed the stack). A
// value over 4 KiB is no URL or connection string and is not scanned.
const URL_USERINFO = /^(?:jdbc:)?[a-z][a-z0-9+.-]*:\/\/([^/?#@:]*):([^/?#]*)@/i;
const URL_SCHEME = /^(?:jdbc:)?[a-z][a-z0-9+.-]*:\/\//i;
// A quoted or braced connection-string value's closing character, by its opening one.
const CLOSING_QUOTES = new Map([
  ['"', '"'],
  ["'", "'"],
  ['{', '}'],
]);
const QUERY_PASSWORDS = new Set(['password', 'pwd', 'pass', 'passwd', 'sig']);
const CONNECTION_PASSWORD =
  /(?:^|;)\s*(?:password|pwd|pass|passwd|accountkey|sharedaccesskey|jet\s+oledb\s*:\s*database\s+password)\s*=\s*("(?:[^"]|""){0,256}"|'(?:[^']|''){0,256}'|\{(?:[^}]|\}\}){0,256}\}|[^;]*)/gi;
const MAX_CARRIER = 4096;

/** `text` percent-decoded, or as it is when it is no valid percent-encoding. */
function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The passwords `value` carries (see above), unquoted or percent-decoded: every one, as the reader
 * may take any (ADO.NET uses the last `Password=`, others the first). A username beside a password
 * is not one: it names an account (`secure-deploy`, `ops%40acme.io`); only when the password is
 * empty or GitHub's `x-oauth-basic` is the username the token. A value that reads as a libpq
 * keyword string or a JAAS line with a password is not also scanned for connection-string parts:
 * its `password=…` runs to the next space, not to a `;`.
 */
export function carriedPasswords(value: string): string[] {
  const passwords: string[] = [];
  if (value.length > MAX_CARRIER) return passwords;
  // An `Authorization` value for HTTP Basic: base64 of `user:password`, whose password is the
  // secret, or its user by the same rule as a URL's (see auth-scheme.ts).
  const basic = basicSecret(value);
  if (basic !== undefined) return [basic];
  if (URL_SCHEME.test(value)) {
    const userinfo = URL_USERINFO.exec(value);
    if (userinfo !== null) {
      const user = percentDecoded(userinfo[1] as string);
      const password = percentDecoded(userinfo[2] as string);
      passwords.push(userinfoSecret(user, password));
    }
    const query = value.indexOf('?');
    if (query >= 0)
      for (const parameter of value
        .slice(query + 1)
        .split('#', 1)[0]
        ?.split('&') ?? []) {
        const equals = parameter.indexOf('=');
        if (equals > 0 && QUERY_PASSWORDS.has(percentDecoded(parameter.slice(0, equals)).toLowerCase()))
          passwords.push(percentDecoded(parameter.slice(equals + 1)));
      }
    return passwords;
  }
  const keywords = libpqPasswords(value) ?? jaasPasswords(value);
  if (keywords !== undefined && keywords.length > 0) return keywords;
  for (const match of value.matchAll(CONNECTION_PASSWORD)) {
    const part = (match[1] as string).trim();
    const close = CLOSING_QUOTES.get(part.charAt(0));
    passwords.push(
      close !== undefined && part.length > 1 && part.endsWith(close)
        ? part.slice(1, -1).replaceAll(close + close, close)
        : part,
    );
  }
  return passwords;
}

// libpq's isspace(): ASCII whitespace only (a no-break space is part of an unquoted value).
const isSpace = (char: string | undefined): boolean => char !== undefined && ' \t\n\r\f\v'.includes(char);

// libpq's keywords are lowercase words (`host`, `sslmode`, `target_session_attrs`): ADO.NET's
// `Server=db; User Id=app` is no libpq string.
const LIBPQ_KEYWORD = /^[a-z][a-z0-9_]*$/;

// The libpq keywords that hold a secret: the server password and the client key's passphrase.
const LIBPQ_PASSWORDS: ReadonlySet<string> = new Set(['password', 'sslpassword']);

/**
 * The `password` and `sslpassword` values of a libpq keyword/value string (`host=db user=app
 * password='a b'`, as libpq and psycopg read it: values unquoted to the next space or in single
 * quotes, `\` escaping the next character either way), or undefined when `text` is none: fewer
 * than two pairs, a keyword that is not lowercase, an unclosed quote, or an unquoted value ending
 * in `;` (an ADO.NET string written with spaces; such a libpq string is not read at all). Every
 * one is returned (libpq takes the last of each).
 */
export function libpqPasswords(text: string): string[] | undefined {
  const passwords: string[] = [];
  let pairs = 0;
  let i = 0;
  for (;;) {
    while (isSpace(text[i])) i += 1;
    if (i >= text.length) break;
    const start = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i])) i += 1;
    const keyword = text.slice(start, i);
    while (isSpace(text[i])) i += 1;
    if (text[i] !== '=' || !LIBPQ_KEYWORD.test(keyword)) return undefined;
    i += 1;
    while (isSpace(text[i])) i += 1;
    let value = '';
    if (text[i] === "'") {
      i += 1;
      for (;;) {
        if (i >= text.length) return undefined;
        const char = text[i] as string;
        i += 1;
        if (char === "'") break;
        if (char === '\\' && i < text.length) {
          value += text[i];
          i += 1;
        } else value += char;
      }
    } else {
      while (i < text.length && !isSpace(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) i += 1;
        value += text[i];
        i += 1;
      }
      if (value.endsWith(';')) return undefined;
    }
    pairs += 1;
    if (LIBPQ_PASSWORDS.has(keyword)) passwords.push(value);
  }
  return pairs >= 2 ? passwords : undefined;
}

// A JAAS entry's control flag, which follows its login module's class name.
const JAAS_FLAGS = new Set(['required', 'requisite', 'sufficient', 'optional']);
// Options that hold a secret: any module's `password`, OAuthBearerLoginModule's `clientSecret`,
// and the `user_<name>` passwords a broker's PlainLoginModule lists.
const JAAS_SECRET_OPTIONS = new Set(['password', 'clientSecret']);
// Escapes in a quoted JAAS value, as java.io.StreamTokenizer reads them (Kafka's JaasConfig parser).
const JAAS_ESCAPES = new Map([
  ['a', '\x07'],
  ['b', '\b'],
  ['f', '\f'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ['v', '\v'],
]);

type JaasToken = { readonly word: string } | { readonly quoted: string } | { readonly char: string };

/**
 * A JAAS text's tokens as Kafka's `JaasConfig` reads them (java.io.StreamTokenizer): words,
 * strings quoted with `"` or `'` (ended by the quote or a line end; `\` escapes, octal included),
 * single characters; `//` and `/* … *\/` comments skipped.
 */
function jaasTokens(text: string): JaasToken[] {
  const tokens: JaasToken[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i] as string;
    // StreamTokenizer's whitespace: every character up to the space.
    if (char <= ' ') i += 1;
    else if (text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (char === '"' || char === "'") {
      let value = '';
      i += 1;
      while (i < text.length && text[i] !== char && text[i] !== '\n' && text[i] !== '\r') {
        let next = text[i] as string;
        i += 1;
        if (next === '\\' && i < text.length) {
          const octal = /^[0-3][0-7]{0,2}|^[4-7][0-7]?/.exec(text.slice(i, i + 3))?.[0];
          if (octal === undefined) {
            next = JAAS_ESCAPES.get(text[i] as string) ?? (text[i] as string);
            i += 1;
          } else {
            next = String.fromCharCode(Number.parseInt(octal, 8));
            i += octal.length;
          }
        }
        value += next;
      }
      if (text[i] === char) i += 1;
      tokens.push({ quoted: value });
    } else if (/[\w$.-]/.test(char)) {
      const start = i;
      while (i < text.length && /[\w$.-]/.test(text[i] as string)) i += 1;
      tokens.push({ word: text.slice(start, i) });
    } else {
      tokens.push({ char });
      i += 1;
    }
  }
  return tokens;
}

const wordOf = (token: JaasToken | undefined): string | undefined =>
  token !== undefined && 'word' in token ? token.word : undefined;

/**
 * The passwords of a JAAS text (Kafka's `sasl.jaas.config`: `…PlainLoginModule required
 * username="…" password="…";`, ScramLoginModule alike, or a JAAS file's `KafkaClient { … };`), or
 * undefined when it has no login module entry (a class name, then `required`, `requisite`,
 * `sufficient` or `optional`). An entry's options are read up to its `;` or the first token that
 * is no `name=value` option.
 */
export function jaasPasswords(text: string): string[] | undefined {
  if (!/\b(?:required|requisite|sufficient|optional)\b/i.test(text)) return undefined;
  const tokens = jaasTokens(text);
  const passwords: string[] = [];
  let entries = 0;
  for (let i = 0; i + 1 < tokens.length; i += 1) {
    const module = wordOf(tokens[i]);
    const flag = wordOf(tokens[i + 1]);
    if (module === undefined || flag === undefined || !JAAS_FLAGS.has(flag.toLowerCase())) continue;
    entries += 1;
    i += 2;
    for (; i + 2 < tokens.length; i += 3) {
      const name = wordOf(tokens[i]);
      const equals = tokens[i + 1];
      const option = tokens[i + 2] as JaasToken;
      if (name === undefined || equals === undefined || !('char' in equals) || equals.char !== '=') break;
      const value = 'quoted' in option ? option.quoted : 'word' in option ? option.word : undefined;
      if (value === undefined) break;
      if (JAAS_SECRET_OPTIONS.has(name) || (name.startsWith('user_') && module.endsWith('PlainLoginModule')))
        passwords.push(value);
    }
    i -= 1;
  }
  return entries > 0 ? passwords : undefined;
}
