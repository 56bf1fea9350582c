import { describe, expect, it } from 'vitest';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { analyzeFile } from '../engine.ts';

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

  it('judges a file on its own without a project (the ESLint plugin, analyzeFile)', () => {
    const text = "INSERT INTO users VALUES (1, 'a@example.test', 'pw-1');\n";
    expect(analyzeFile('seeds/dev.sql', text, { rules: ['seed-plaintext-secret'] }).findings).toEqual([]);
  });
});
