import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  literalText,
  memberPropertyName,
  propertyKeyName,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import type { FileContext, FileRule, SqlTables } from '../rule.ts';
import { isHashColumnName, isSecretName } from '../secret-names.ts';
import { isDigestShaped, isHashShaped } from '../secret-values.ts';
import { sqlAssignments } from '../sql.ts';
import { reachesWrite, type SeedModule, seedModule } from './seed-writes.ts';

const ID = 'seed-plaintext-secret';

// Seeds and migrations by the conventions of knex, prisma, TypeORM, sequelize, drizzle and plain SQL.
const SEED_PATH =
  /(^|\/)(seeds?|seeders?|seeding|migrations?|migrate)(\/|$)|(^|[/._-])(seed|seeds|seeder|migration)[._-][^/]*$|(^|\/)seed\.[cm]?[jt]s$/i;

// Column types written where a value would be (`{ password_hash: 'text' }` in a schema object).
const SQL_TYPE =
  /^(text|tinytext|mediumtext|longtext|citext|varchar|nvarchar|char|nchar|character varying|string|uuid|int|integer|bigint|smallint|serial|bigserial|boolean|bool|bytea|blob|binary|varbinary|json|jsonb|date|datetime|timestamp|timestamptz|float|double|decimal|numeric|real|inet|id|hashed)(\s*\(\s*\d+(\s*,\s*\d+)?\s*\))?(\s+(not null|null|primary key|unique))*$/i;

/** A form label for the column (`{ password: 'Password' }`, `{ apiKey: 'API key' }`): its own name, capitalised. */
function isLabel(column: string, value: string): boolean {
  const squash = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  return /^[A-Z]/.test(value) && value !== column && squash(value) === squash(column);
}

/** Whether a literal written into `column` is a plaintext secret. */
function plaintextSecret(column: string, value: string): boolean {
  if (value.length === 0 || isHashShaped(value) || SQL_TYPE.test(value.trim())) return false;
  if (isHashColumnName(column)) return !isDigestShaped(value);
  return isSecretName(column, 'code') || isSecretName(column, 'env');
}

/** A column a hash of a password goes into: `password`, `password_hash`, `encrypted_password`. */
const hashedColumn = (column: string): boolean =>
  isHashColumnName(column) || isSecretName(column, 'code') || isSecretName(column, 'env');

function message(column: string, where: string): string {
  return (
    `${where} writes a plaintext literal into the secret column "${column}". ` +
    'Store a hash (argon2id/bcrypt/scrypt) computed at seed time, or load the value from the secret source.'
  );
}

function hashedMessage(column: string, where: string): string {
  return (
    `${where} writes a hash of a password written in the source into "${column}": the password is public even though it is stored hashed, ` +
    'and anyone who reads the repository can sign in with it. Generate the password at seed time or read it from the secret source.'
  );
}

function checkSql(text: string, base: number, elsewhere: SqlTables | undefined): RawFinding[] {
  return sqlAssignments(text, base, elsewhere)
    .filter((a) => (a.hashed ? a.value.length > 0 && hashedColumn(a.column) : plaintextSecret(a.column, a.value)))
    .map((a) => ({
      ruleId: ID,
      severity: 'error' as const,
      message: a.hashed ? hashedMessage(a.column, 'A SQL statement') : message(a.column, 'A SQL statement'),
      start: a.start,
      end: a.end,
      key: a.hashed ? `sql-hashed:${a.column}` : `sql:${a.column}`,
      redact: [[a.start, a.end] as const],
    }));
}

// Password hashing calls: bcrypt/bcryptjs `hash`/`hashSync`, argon2 `hash`, `hashPassword(…)`.
const HASH_CALL = /^(hash|hashSync|hashPassword|hashpw|hashpwSync|argon2id|argon2i|bcrypt)$/;

/** The literal password a value hashes (`await bcrypt.hash('admin123', 10)`), directly or through a local `const`. */
function hashedLiteral(node: AstNode | undefined, module: SeedModule, depth = 0): AstNode | undefined {
  let n = unwrap(node);
  if (n?.type === 'AwaitExpression') n = unwrap(child(n, 'argument'));
  if (!n || depth > 2) return undefined;
  if (n.type === 'CallExpression') {
    const callee = unwrap(child(n, 'callee'));
    const name = callee?.type === 'Identifier' ? (callee.name as string) : memberPropertyName(callee);
    const first = children(n, 'arguments')[0];
    const value = stringValue(first);
    return name !== undefined && HASH_CALL.test(name) && value !== undefined && value.length > 0 ? first : undefined;
  }
  if (n.type === 'Identifier') {
    // `const password = await bcrypt.hash('admin123', 10); … insert({ email, password })`.
    for (const ref of module.references.get(n.name as string) ?? []) {
      const declarator = module.parentOf.get(ref);
      if (declarator?.type === 'VariableDeclarator' && child(declarator, 'id') === ref) {
        const found = hashedLiteral(child(declarator, 'init'), module, depth + 1);
        if (found) return found;
      }
    }
  }
  return undefined;
}

function checkJs(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  let module: SeedModule | undefined;
  const writes = new Map<AstNode, boolean>();
  for (const node of context.module.nodes) {
    if (node.type === 'Property') {
      const column = propertyKeyName(node);
      const valueNode = child(node, 'value');
      if (column === undefined || !valueNode) continue;
      const value = literalText(valueNode);
      const plaintext = value !== undefined && plaintextSecret(column, value) && !isLabel(column, value);
      if (value === undefined && !hashedColumn(column)) continue;
      if (value !== undefined && !plaintext) continue;
      module ??= seedModule(context.module.nodes, context.module.parentOf);
      const hashed = plaintext ? undefined : hashedLiteral(valueNode, module);
      if (!plaintext && !hashed) continue;
      const object = context.module.parentOf.get(node);
      if (object?.type !== 'ObjectExpression') continue;
      let written = writes.get(object);
      if (written === undefined) {
        written = reachesWrite(object, module);
        writes.set(object, written);
      }
      if (!written) continue;
      out.push({
        ruleId: ID,
        severity: 'error',
        message: hashed ? hashedMessage(column, 'A seed/migration object') : message(column, 'A seed/migration object'),
        start: node.start,
        end: node.end,
        key: hashed ? `object-hashed:${column}` : `object:${column}`,
        redact: [hashed ? [hashed.start, hashed.end] : [valueNode.start, valueNode.end]],
      });
    } else if ((node.type === 'Literal' && typeof node.value === 'string') || node.type === 'TemplateLiteral') {
      // Raw SQL inside the migration: knex.raw(`INSERT …`), queryRunner.query('UPDATE …').
      const text = rawText(node);
      if (text && /\b(insert|update)\b/i.test(text))
        out.push(...checkSql(text, node.start + 1, context.project?.sqlTables(context.file)));
    }
  }
  return out;
}

/** The source text between the quotes, so SQL token offsets map back to the file. */
function rawText(node: AstNode): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'Literal') return typeof n.raw === 'string' ? n.raw.slice(1, -1) : undefined;
  if (n.type === 'TemplateLiteral' && children(n, 'expressions').length === 0) {
    return stringValue(n);
  }
  return undefined;
}

/** `seed-plaintext-secret`: seeds and migrations that write plaintext into secret columns. */
export const seedPlaintextSecret: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A seed or migration writes a plaintext literal into a secret/password/api-key column.',
  fix: 'Hash the value (argon2id, bcrypt, scrypt) at seed time or read it from the secret source; never commit it.',
  appliesTo: (file) => file.endsWith('.sql') || (SEED_PATH.test(file) && /\.[cm]?[jt]sx?$/.test(file)),
  check: (context) =>
    context.isJs ? checkJs(context) : checkSql(context.text, 0, context.project?.sqlTables(context.file)),
};
