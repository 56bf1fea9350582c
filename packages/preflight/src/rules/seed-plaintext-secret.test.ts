import { describe, expect, it } from 'vitest';
import { HASHED, NOT_WRITTEN, WRITTEN } from '../../test/fixtures/seed-write-cases.ts';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { analyzeFile } from '../engine.ts';
import { sqlChangedTables } from '../sql.ts';

const { write, reported } = useTempProject('seed-plaintext-secret');

const MIGRATION = 'CREATE TABLE users (id int PRIMARY KEY, email text, password text);\n';

describe('INSERTs without a column list, paired through another file', () => {
  it('pairs .sql seeds and raw SQL in JS seeds with a CREATE TABLE of a migration', async () => {
    write({
      'db/migrations/001.sql': MIGRATION,
      'db/seeds/dev.sql': "INSERT INTO users VALUES (1, 'a@example.test', 'pw-1'), (2, 'b@example.test', 'pw-2');\n",
      'db/seeds/02_users.ts':
        "export const seed = (knex) => knex.raw(\"INSERT INTO users VALUES (3, 'c', 'pw-3')\");\n",
    });
    expect(await reported()).toEqual(['db/seeds/02_users.ts:1', 'db/seeds/dev.sql:1', 'db/seeds/dev.sql:1']);
  });

  it('pairs only rows with exactly as many values as the table has columns', async () => {
    write({
      'migrations/001.sql': MIGRATION,
      'seeds/dev.sql': "INSERT INTO users VALUES (1, 'pw-1'), (2, 'b@example.test', 'pw-2', 'extra');\n",
    });
    expect(await reported()).toEqual([]);
  });

  it('prefers the CREATE TABLE of the same file', async () => {
    write({
      'migrations/001.sql': MIGRATION,
      'seeds/dev.sql':
        "CREATE TEMP TABLE users (id int, password text, email text);\nINSERT INTO users VALUES (1, 'pw-1', 'a@example.test');\n",
    });
    expect(await reported()).toEqual(['seeds/dev.sql:2']);
  });

  it('pairs nothing through a table that is altered anywhere or created with other columns elsewhere', async () => {
    write({
      'migrations/001.sql': `${MIGRATION}CREATE TABLE clients (id int, name text, secret text);\n`,
      'migrations/002.sql': 'ALTER TABLE IF EXISTS public.users RENAME COLUMN password TO nickname;\n',
      'other/schema.sql': 'CREATE TABLE clients (id int, name text, label text);\n',
      'seeds/dev.sql': "INSERT INTO users VALUES (1, 'a', 'Ann');\nINSERT INTO clients VALUES (1, 'ci', 'x');\n",
    });
    expect(await reported()).toEqual([]);
  });

  it.each([
    // Prisma on SQLite redefines a table by creating a copy and renaming it into place.
    [
      'a rename into place',
      '002.sql',
      'CREATE TABLE "new_users" (id int, email text, name text);\nDROP TABLE "users";\nALTER TABLE "new_users" RENAME TO "users";\n',
    ],
    ['a MySQL RENAME TABLE', '002.sql', 'RENAME TABLE users_old TO users_archive, users_new TO users;\n'],
    [
      'a knex alterTable',
      '002.js',
      "exports.up = (knex) => knex.schema.alterTable('users', (t) => t.dropColumn('password'));\n",
    ],
    [
      'SQL Server sp_rename',
      '002.sql',
      "CREATE TABLE users_new (id int, name text, email text);\nEXEC sp_rename N'users_new', N'users';\n",
    ],
    [
      'a column rename with sp_rename',
      '002.sql',
      "EXEC sp_rename @newname = N'name', @objname = N'dbo.users.password', @objtype = 'COLUMN';\n",
    ],
    [
      'an ALTER TABLE in a JS migration',
      '002.ts',
      "export async function up(q) { await q.query('ALTER TABLE users RENAME COLUMN password TO name'); }\n",
    ],
  ])('pairs nothing through a table changed by %s', async (_, name, change) => {
    write({
      'migrations/001.sql': MIGRATION,
      [`migrations/${name}`]: change,
      'seeds/dev.sql': "INSERT INTO users VALUES (1, 'ann@example.test', 'Ann Example');\n",
    });
    expect(await reported()).toEqual([]);
  });

  it('does not take the schema of an altered table for a table', async () => {
    write({
      'migrations/001.sql': 'CREATE TABLE app (id int, email text, password text);\n',
      'migrations/002.sql': 'ALTER TABLE app.users ADD COLUMN x int;\n',
      'seeds/dev.sql': "INSERT INTO app VALUES (1, 'a@example.test', 'pw-1');\n",
    });
    expect(await reported()).toEqual(['seeds/dev.sql:1']);
  });

  it('pairs only within the package of the seed (its nearest package.json)', async () => {
    write({
      'apps/auth/package.json': '{}',
      'apps/auth/db/schema.sql': MIGRATION,
      'apps/blog/package.json': '{}',
      'apps/blog/db/seed.sql': "INSERT INTO users VALUES (1, 'Ann', 'Likes cats');\n",
      'apps/auth/db/seeds/dev.sql': "INSERT INTO users VALUES (1, 'ann@example.test', 'pw-1');\n",
    });
    expect(await reported()).toEqual(['apps/auth/db/seeds/dev.sql:1']);
  });

  it('does not count FULLTEXT or SPATIAL keys as columns', async () => {
    write({
      'migrations/001.sql':
        'CREATE TABLE users (id int, email text, password text, FULLTEXT KEY ft (email), SPATIAL INDEX sp (id));\n',
      'seeds/dev.sql': "INSERT INTO users VALUES (1, 'a@example.test', 'pw-1');\n",
    });
    expect(await reported()).toEqual(['seeds/dev.sql:1']);
  });

  it('reads columns named spatial or fulltext as columns', () => {
    const text =
      "CREATE TABLE places (id int, spatial text, password text, fulltext text);\nINSERT INTO places VALUES (1, 'geo', 'pw-1', 'n');\n";
    const findings = analyzeFile('seeds/places.sql', text, { rules: ['seed-plaintext-secret'] }).findings;
    expect(findings.map((f) => [f.start.line, f.start.column])).toEqual([[2, 38]]); // pw-1, in the password column
  });

  it('reads runs of CREATE and INSERT words without pairing anything', () => {
    const text = `${'create '.repeat(20_000)}\n${'insert '.repeat(20_000)}`;
    expect(analyzeFile('seeds/odd.sql', text, { rules: ['seed-plaintext-secret'] }).findings).toEqual([]);
  });

  it('finds no table in unclosed quotes and brackets, however many', () => {
    expect([...sqlChangedTables('alter table ['.repeat(40_000))]).toEqual([]);
    expect([...sqlChangedTables(`rename table ${'a to b, '.repeat(20_000)}`)].length).toBeGreaterThan(0);
  });

  it('judges a file on its own without a project (the ESLint plugin, analyzeFile)', () => {
    const text = "INSERT INTO users VALUES (1, 'a@example.test', 'pw-1');\n";
    expect(analyzeFile('seeds/dev.sql', text, { rules: ['seed-plaintext-secret'] }).findings).toEqual([]);
  });
});

describe('seed objects', () => {
  const findings = (code: string) =>
    analyzeFile('migrations/1700000000000_seed.ts', code, { rules: ['seed-plaintext-secret'] }).findings;

  it('does not report schema calls, renames, indexes, filters, logged objects, labels or SQL type names', () => {
    expect(findings(NOT_WRITTEN).map((f) => f.start.line)).toEqual([]);
  });

  it('reports literals that reach a write: $set, a const inserted or looped over, upsert, a factory, drizzle, a helper, an entity, exported rows', () => {
    expect(findings(WRITTEN).map((f) => f.start.line)).toEqual([2, 3, 5, 7, 8, 10, 11, 12, 14]);
  });

  // Each object walks up to its write once; the test timeout is the assertion.
  it('follows 20,000 rows of one const inserted or logged 1,000 times in linear time', () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `  { email: 'u${i}', api_key: 'k-${i}', token: 't' },`);
    const inserts = Array.from({ length: 1_000 }, () => "  await knex('users').insert(rows);");
    const code = `const rows = [\n${rows.join('\n')}\n];\nexport async function seed(knex) {\n${inserts.join('\n')}\n}\n`;
    expect(findings(code)).toHaveLength(40_000);
    const logged = code.replaceAll("await knex('users').insert(rows)", 'console.log(rows)');
    expect(findings(logged)).toHaveLength(0);
  });

  // A walk cut short (too deep) says nothing about a binding: its answer must not be reused for a
  // row that reaches the same binding by a shorter path.
  it('reports a row next to a binding that an earlier, deeper walk gave up on', () => {
    const chain = Array.from({ length: 7 }, (_, i) => `  const x${i + 1} = x${i};`);
    const code = [
      'export async function seed(knex) {',
      "  const x0 = { email: 'deep@example.test', password: 'deep-pass-1' };",
      ...chain,
      "  const rows = [x7, { email: 'near@example.test', password: 'near-pass-1' }];",
      "  await knex('users').insert(rows);",
      '}',
      '',
    ].join('\n');
    expect(findings(code).map((f) => f.start.line)).toEqual([10]);
  });

  it('reports a password written in the source and hashed at seed time, without quoting it', () => {
    const found = findings(HASHED);
    expect(found.map((f) => f.start.line)).toEqual([5, 6, 8, 9, 10]);
    for (const f of found) {
      expect(f.message).toMatch(/public even though it is stored hashed/);
      expect(f.message).not.toContain('admin123');
      expect(f.snippet).not.toContain('admin123');
    }
  });
});

describe('seed-plaintext-secret with numeric values', () => {
  it('reports a password seeded as a number, and hides the number in the snippet', () => {
    const findings = analyzeFile(
      'seeds/01_users.ts',
      "export const seed = (knex) =>\n  knex('users').insert({ email: 'a@example.test', password: 48291736, age: 42 });\n",
      { rules: ['seed-plaintext-secret'] },
    ).findings;
    expect(findings.map((f) => f.start.line)).toEqual([2]);
    expect(findings[0]!.snippet).not.toContain('48291736');
  });

  it('does not report small numbers in secret-named columns (counters, scores)', () => {
    const findings = analyzeFile(
      'seeds/02_users.ts',
      "export const seed = (knex) =>\n  knex('users').insert({ email: 'a@example.test', failedPasswordAttempts: 0, tokenUsage: 0, token: 0, passwordScore: 4, password: 1.5 });\n",
      { rules: ['seed-plaintext-secret'] },
    ).findings;
    expect(findings).toEqual([]);
  });
});
