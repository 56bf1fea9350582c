import type { RawFinding } from '../finding.ts';
import { type AstNode, child, children, propertyKeyName, stringValue, unwrap } from '../js-ast.ts';
import type { FileContext, FileRule, SqlTables } from '../rule.ts';
import { isHashColumnName, isSecretName } from '../secret-names.ts';
import { isDigestShaped, isHashShaped } from '../secret-values.ts';
import { sqlAssignments } from '../sql.ts';

const ID = 'seed-plaintext-secret';

// Seeds and migrations by the conventions of knex, prisma, TypeORM, sequelize, drizzle and plain SQL.
const SEED_PATH =
  /(^|\/)(seeds?|seeders?|seeding|migrations?|migrate)(\/|$)|(^|[/._-])(seed|seeds|seeder|migration)[._-][^/]*$|(^|\/)seed\.[cm]?[jt]s$/i;

/** Whether a literal written into `column` is a plaintext secret. */
function plaintextSecret(column: string, value: string): boolean {
  if (value.length === 0 || isHashShaped(value)) return false;
  if (isHashColumnName(column)) return !isDigestShaped(value);
  return isSecretName(column, 'code') || isSecretName(column, 'env');
}

function message(column: string, where: string): string {
  return (
    `${where} writes a plaintext literal into the secret column "${column}". ` +
    'Store a hash (argon2id/bcrypt/scrypt) computed at seed time, or load the value from the secret source.'
  );
}

function checkSql(text: string, base: number, elsewhere: SqlTables | undefined): RawFinding[] {
  return sqlAssignments(text, base, elsewhere)
    .filter((a) => plaintextSecret(a.column, a.value))
    .map((a) => ({
      ruleId: ID,
      severity: 'error' as const,
      message: message(a.column, 'A SQL statement'),
      start: a.start,
      end: a.end,
      key: `sql:${a.column}`,
      redact: [[a.start, a.end] as const],
    }));
}

function checkJs(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  for (const node of context.module.nodes) {
    if (node.type === 'Property') {
      const column = propertyKeyName(node);
      const valueNode = child(node, 'value');
      const value = stringValue(valueNode);
      if (column === undefined || value === undefined || !plaintextSecret(column, value)) continue;
      out.push({
        ruleId: ID,
        severity: 'error',
        message: message(column, 'A seed/migration object'),
        start: node.start,
        end: node.end,
        key: `object:${column}`,
        redact: [[valueNode!.start, valueNode!.end]],
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
