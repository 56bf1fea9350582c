// Just enough SQL to pair INSERT columns with VALUES and UPDATE … SET column = value. A tokenizer,
// not a regex, so quotes, escapes and nested parentheses do not shift the pairing.

/** A SQL token with offsets into the scanned text. */
export interface SqlToken {
  readonly kind: 'word' | 'string' | 'quoted-ident' | 'punct' | 'number' | 'other';
  readonly text: string;
  /** For strings: the unescaped content. For quoted identifiers: the name. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** A literal written into a named column. */
export interface SqlAssignment {
  readonly column: string;
  readonly value: string;
  readonly start: number;
  readonly end: number;
  readonly statementStart: number;
  /**
   * The literal is the input of a hash written into the column (`crypt('admin123', gen_salt('bf'))`,
   * `md5('…')`), not the value itself.
   */
  readonly hashed?: true;
}

// SQL functions that hash or encrypt a password: pgcrypto `crypt`/`digest`/`hmac`, `md5`, MySQL `SHA2`/`PASSWORD`.
const HASH_FUNCTIONS = new Set([
  'CRYPT',
  'MD5',
  'SHA1',
  'SHA2',
  'SHA224',
  'SHA256',
  'SHA384',
  'SHA512',
  'DIGEST',
  'HMAC',
  'PASSWORD',
]);

/**
 * `crypt('pw', gen_salt('bf'))`, `encode(digest('pw', 'sha256'), 'hex')`: the string a hash function
 * of the expression takes first, if any.
 */
function hashInput(item: readonly SqlToken[]): SqlToken | undefined {
  for (let i = 0; i + 2 < item.length; i++) {
    const word = item[i]!;
    if (word.kind === 'word' && HASH_FUNCTIONS.has(word.value.toUpperCase()) && isPunct(item[i + 1], '(')) {
      return item[i + 2]?.kind === 'string' ? item[i + 2] : undefined;
    }
  }
  return undefined;
}

export function tokenizeSql(text: string, base = 0): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'" || ((c === 'E' || c === 'e') && text[i + 1] === "'")) {
      const open = c === "'" ? i : i + 1;
      let j = open + 1;
      let value = '';
      while (j < text.length) {
        if (text[j] === "'" && text[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (text[j] === '\\' && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
        } else if (text[j] === "'") {
          break;
        } else {
          value += text[j];
          j++;
        }
      }
      tokens.push({ kind: 'string', text: text.slice(i, j + 1), value, start: base + open, end: base + j + 1 });
      i = j + 1;
    } else if (c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      const end = text.indexOf(close, i + 1);
      const j = end === -1 ? text.length : end;
      tokens.push({
        kind: 'quoted-ident',
        text: text.slice(i, j + 1),
        value: text.slice(i + 1, j),
        start: base + i,
        end: base + j + 1,
      });
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_$]/.test(text[j]!)) j++;
      const word = text.slice(i, j);
      tokens.push({ kind: 'word', text: word, value: word, start: base + i, end: base + j });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < text.length && /[0-9.]/.test(text[j]!)) j++;
      tokens.push({ kind: 'number', text: text.slice(i, j), value: text.slice(i, j), start: base + i, end: base + j });
      i = j;
    } else {
      tokens.push({
        kind: c === '(' || c === ')' || c === ',' || c === ';' || c === '=' || c === '.' ? 'punct' : 'other',
        text: c,
        value: c,
        start: base + i,
        end: base + i + 1,
      });
      i++;
    }
  }
  return tokens;
}

const isWord = (token: SqlToken | undefined, word: string): boolean =>
  token?.kind === 'word' && token.value.toUpperCase() === word;
const isPunct = (token: SqlToken | undefined, p: string): boolean => token?.kind === 'punct' && token.text === p;
const identName = (token: SqlToken | undefined): string | undefined =>
  token && (token.kind === 'word' || token.kind === 'quoted-ident') ? token.value : undefined;

/** Reads a parenthesised, comma-separated list starting at `tokens[i] === '('`; returns items and next index. */
function readList(tokens: SqlToken[], i: number): { items: SqlToken[][]; next: number } {
  const items: SqlToken[][] = [[]];
  let depth = 0;
  let j = i;
  for (; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(')) {
      depth++;
      if (depth === 1) continue;
    } else if (isPunct(t, ')')) {
      depth--;
      if (depth === 0) return { items, next: j + 1 };
    } else if (isPunct(t, ',') && depth === 1) {
      items.push([]);
      continue;
    } else if (isPunct(t, ';') && depth <= 1) {
      break;
    }
    items.at(-1)!.push(t);
  }
  return { items, next: j };
}

const TABLE_CONSTRAINTS = new Set(['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'FOREIGN', 'CHECK', 'EXCLUDE']);

/** `schema.table` / `"table"` at `tokens[i]`: the name as written (parts lower case, joined by `.`) and the next index. */
function readTableName(tokens: SqlToken[], i: number): { name: string | undefined; next: number } {
  const first = identName(tokens[i]);
  if (first === undefined) return { name: undefined, next: i + 1 };
  const parts = [first.toLowerCase()];
  let j = i + 1;
  while (isPunct(tokens[j], '.')) {
    const part = identName(tokens[j + 1]);
    if (part === undefined) return { name: undefined, next: j + 1 };
    parts.push(part.toLowerCase());
    j += 2;
  }
  return { name: parts.join('.'), next: j };
}

/** A table-level constraint (`PRIMARY KEY (…)`, `KEY idx (…)`), not a column named `key` or `index`. */
function isTableConstraint(item: readonly SqlToken[]): boolean {
  const first = item[0];
  if (first?.kind !== 'word') return false;
  const word = first.value.toUpperCase();
  if (word === 'KEY' || word === 'INDEX') return isPunct(item[1], '(') || isPunct(item[2], '(');
  // MySQL `FULLTEXT KEY ft (…)`, `SPATIAL INDEX (…)`; a column may be named `spatial` too.
  if (word === 'FULLTEXT' || word === 'SPATIAL') {
    return isWord(item[1], 'KEY') || isWord(item[1], 'INDEX') || isPunct(item[1], '(');
  }
  return TABLE_CONSTRAINTS.has(word);
}

const DEFAULT_SCHEMAS = new Set(['public', 'dbo', 'main']);

/**
 * Column names, in order, of every `CREATE TABLE name (…)` in the text, by the name as written and,
 * in a default schema, by the bare name too (`users` for `public.users`). `null`: the name is
 * ambiguous, so nothing is paired through it.
 */
function createdTables(tokens: SqlToken[]): Map<string, (string | undefined)[] | null> {
  const tables = new Map<string, (string | undefined)[] | null>();
  const remember = (name: string, columns: (string | undefined)[]): void => {
    tables.set(name, tables.has(name) ? null : columns);
  };
  for (let i = 0; i < tokens.length; i++) {
    if (!isWord(tokens[i], 'CREATE')) continue;
    let j = i + 1;
    // `CREATE [OR REPLACE] [GLOBAL|LOCAL] [TEMPORARY|TEMP] [UNLOGGED] TABLE`: a few words at most,
    // so a run of `create create …` costs linear time.
    while (j < i + 6 && tokens[j]?.kind === 'word' && !isWord(tokens[j], 'TABLE')) j++;
    if (!isWord(tokens[j], 'TABLE')) continue;
    j++;
    if (isWord(tokens[j], 'IF') && isWord(tokens[j + 1], 'NOT') && isWord(tokens[j + 2], 'EXISTS')) j += 3;
    const table = readTableName(tokens, j);
    if (table.name === undefined || !isPunct(tokens[table.next], '(')) continue;
    const definition = readList(tokens, table.next);
    const columns = definition.items
      .filter((item) => item.length > 0 && !isTableConstraint(item))
      .map((item) => identName(item[0]));
    remember(table.name, columns);
    // `INSERT INTO users` reaches `public.users` (and dbo./main.) through the default schema only.
    const dot = table.name.lastIndexOf('.');
    if (DEFAULT_SCHEMAS.has(table.name.slice(0, dot))) remember(table.name.slice(dot + 1), columns);
    i = definition.next - 1;
  }
  return tables;
}

/** Column names of tables, in order, by table name; `null` when a table is defined in different ways. */
export type SqlTables = ReadonlyMap<string, readonly (string | undefined)[] | null>;

/** The columns of every `CREATE TABLE` in `text` (see {@link createdTables}), for other files' INSERTs. */
export function sqlCreatedTables(text: string): Map<string, (string | undefined)[] | null> {
  return createdTables(tokenizeSql(text));
}

const TABLE_NAME = String.raw`((?:[\w$]+|"[^"\n]{1,128}"|\x60[^\x60\n]{1,128}\x60|\[[^\]\n]{1,128}\])(?:\s*\.\s*(?:[\w$]+|"[^"\n]{1,128}"|\x60[^\x60\n]{1,128}\x60|\[[^\]\n]{1,128}\]))*)`;
/**
 * `ALTER TABLE [IF EXISTS] [ONLY] name`, `… RENAME TO name`, MySQL `RENAME TABLE a TO b[, c TO d]`,
 * SQL Server `sp_rename 'a', 'b'` (any argument form). Lengths are bounded, so odd input cannot make
 * the search quadratic.
 */
const CHANGED_TABLE = new RegExp(
  String.raw`\balter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?${TABLE_NAME}|\brename\s+to\s+${TABLE_NAME}|\brename\s+table\s+([^;]{1,2000})|\bsp_rename\s+([^;\n]{1,600})`,
  'gi',
);

/**
 * Migration APIs that change a table: knex `alterTable`/`table`/`renameTable`, sequelize
 * `renameTable`/`removeColumn`/`renameColumn`/`changeColumn`/`addColumn`, TypeORM `dropColumn`…
 */
const CHANGING_CALL =
  /\b(?:alterTable|renameTable|removeColumn|renameColumn|changeColumn|addColumn|dropColumn|dropColumns|schema\.table)\s*\(\s*['"\x60]([\w.$]+)['"\x60](?:\s*,\s*['"\x60]([\w.$]+)['"\x60])?/g;

/**
 * Every table name that an `ALTER TABLE` or a rename in `text` touches, in any kind of file (a
 * `.sql` migration, a JS migration's SQL string or migration API call): lower case, unquoted, with
 * and without its schema. A plain text search: it may name too many tables, which only makes fewer pairings.
 */
export function sqlChangedTables(text: string): Set<string> {
  const out = new Set<string>();
  // A name as written and without its schema; with `everyPart`, each part on its own as well, for
  // `sp_rename 'users.password', 'note', 'COLUMN'`, which changes the table `users`.
  const add = (raw: string, everyPart = false): void => {
    const parts = raw.split('.').map((p) =>
      p
        .trim()
        .replace(/^["`[]|["`\]]$/g, '')
        .toLowerCase(),
    );
    out.add(parts.join('.')).add(parts.at(-1) ?? '');
    if (everyPart) for (let i = 0; i < parts.length; i++) out.add(parts.slice(i).join('.')).add(parts[i] ?? '');
  };
  for (const match of text.matchAll(CHANGING_CALL)) {
    if (match[1] !== undefined) add(match[1]);
    if (match[2] !== undefined) add(match[2]);
  }
  for (const match of text.matchAll(CHANGED_TABLE)) {
    if (match[1] !== undefined) add(match[1]);
    if (match[2] !== undefined) add(match[2]);
    if (match[3] !== undefined) {
      for (const pair of match[3].split(',')) for (const name of pair.split(/\bto\b/i)) if (name.trim()) add(name);
    }
    // sp_rename's arguments, positional or named in any order: every quoted name.
    if (match[4] !== undefined) for (const quoted of match[4].matchAll(/'([^']{1,256})'/g)) add(quoted[1] ?? '', true);
  }
  out.delete('');
  return out;
}

/**
 * Every string literal written into a named column by INSERT … VALUES or UPDATE … SET. An INSERT
 * without a column list is paired through a `CREATE TABLE` of that table in the same text or,
 * failing that, in `elsewhere` (other files of the project); a row paired through another file must
 * have exactly as many values as the table has columns (an `ALTER TABLE` may have changed them).
 */
export function sqlAssignments(text: string, base = 0, elsewhere?: SqlTables): SqlAssignment[] {
  const tokens = tokenizeSql(text, base);
  const out: SqlAssignment[] = [];
  let tables: Map<string, (string | undefined)[] | null> | undefined;
  for (let i = 0; i < tokens.length; i++) {
    if (isWord(tokens[i], 'INSERT')) {
      const statementStart = tokens[i]!.start;
      let j = i + 1;
      let names: readonly (string | undefined)[] = [];
      let exact = false;
      if (isWord(tokens[j], 'INTO')) {
        const table = readTableName(tokens, j + 1);
        if (isWord(tokens[table.next], 'VALUES') && table.name !== undefined) {
          tables ??= createdTables(tokens);
          const here = tables.get(table.name);
          const there = here === undefined ? elsewhere?.get(table.name) : undefined;
          names = here ?? there ?? [];
          exact = here === undefined && there !== undefined && there !== null;
          j = table.next;
        }
      }
      if (!isWord(tokens[j], 'VALUES')) {
        // `INSERT [IGNORE] [INTO] schema.table (`: the column list starts within a few tokens, so
        // a run of `insert insert …` costs linear time.
        const limit = j + 16;
        while (j < tokens.length && j < limit && !isPunct(tokens[j], '(') && !isPunct(tokens[j], ';')) j++;
        if (!isPunct(tokens[j], '(')) continue;
        const columns = readList(tokens, j);
        names = columns.items.map((item) => (item.length === 1 ? identName(item[0]) : identName(item.at(-1))));
        j = columns.next;
      }
      if (!isWord(tokens[j], 'VALUES')) continue;
      j++;
      while (isPunct(tokens[j], '(')) {
        const row = readList(tokens, j);
        if (exact && row.items.length !== names.length) {
          j = row.next;
          if (!isPunct(tokens[j], ',')) break;
          j++;
          continue;
        }
        row.items.forEach((item, index) => {
          const column = names[index];
          const only = item.length === 1 ? item[0] : undefined;
          if (column !== undefined && only?.kind === 'string') {
            out.push({ column, value: only.value, start: only.start, end: only.end, statementStart });
          } else if (column !== undefined) {
            const input = hashInput(item);
            if (input)
              out.push({
                column,
                value: input.value,
                start: input.start,
                end: input.end,
                statementStart,
                hashed: true,
              });
          }
        });
        j = row.next;
        if (!isPunct(tokens[j], ',')) break;
        j++;
      }
      i = j - 1;
    } else if (isWord(tokens[i], 'SET') && i > 0) {
      const statementStart = tokens[i]!.start;
      let j = i + 1;
      while (j < tokens.length && !isPunct(tokens[j], ';') && !isWord(tokens[j], 'WHERE')) {
        // column = 'literal' [, …]
        const name = identName(tokens[j]);
        if (name !== undefined && isPunct(tokens[j + 1], '=') && tokens[j + 2]?.kind === 'string') {
          const value = tokens[j + 2]!;
          const terminated =
            tokens[j + 3] === undefined ||
            isPunct(tokens[j + 3], ',') ||
            isPunct(tokens[j + 3], ';') ||
            isWord(tokens[j + 3], 'WHERE');
          if (terminated)
            out.push({ column: name, value: value.value, start: value.start, end: value.end, statementStart });
        } else if (name !== undefined && isPunct(tokens[j + 1], '=') && tokens[j + 2]?.kind === 'word') {
          // column = crypt('…', gen_salt('bf')) [, …]: up to the next top-level comma, WHERE or `;`.
          const item: SqlToken[] = [];
          let depth = 0;
          for (let k = j + 2; k < tokens.length && k < j + 64; k++) {
            const t = tokens[k]!;
            if (depth === 0 && (isPunct(t, ',') || isPunct(t, ';') || isWord(t, 'WHERE'))) break;
            if (isPunct(t, '(')) depth++;
            else if (isPunct(t, ')')) depth--;
            item.push(t);
          }
          const input = hashInput(item);
          if (input)
            out.push({
              column: name,
              value: input.value,
              start: input.start,
              end: input.end,
              statementStart,
              hashed: true,
            });
        }
        j++;
      }
      i = j;
    }
  }
  return out;
}
