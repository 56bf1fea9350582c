// Issues on node:sqlite (embedded). The reporter's email is stored only as a Transit envelope bound
// to (tenant, table, column, record id): a copied envelope does not decrypt anywhere else.
import { DatabaseSync } from 'node:sqlite';
import type { Transit } from '@rampart/transit';

export interface Issue {
  readonly id: number;
  readonly tenant: string;
  readonly title: string;
  readonly description: string;
  readonly reporterEmail: string | undefined;
  readonly source: 'api' | 'email';
}

interface Row {
  id: number;
  tenant: string;
  title: string;
  description: string;
  reporter_email: string | null;
  source: 'api' | 'email';
}

const emailContext = (tenant: string, id: number) => ({ tenant, table: 'issues', column: 'reporter_email', id });

export class IssueStore {
  readonly #db: DatabaseSync;
  readonly #transit: Transit;

  constructor(path: string, transit: Transit) {
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec(`CREATE TABLE IF NOT EXISTS issues (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      tenant TEXT NOT NULL,
      title TEXT NOT NULL,
      description TEXT NOT NULL,
      reporter_email TEXT,
      source TEXT NOT NULL
    )`);
    this.#transit = transit;
  }

  async create(
    tenant: string,
    input: { title: string; description: string; reporterEmail?: string | undefined; source: 'api' | 'email' },
  ): Promise<Issue> {
    // The id is part of the encryption context, so the row is inserted first; if encryption
    // fails the row is removed (no awaits inside a transaction on the one shared connection).
    const { lastInsertRowid } = this.#db
      .prepare('INSERT INTO issues (tenant, title, description, source) VALUES (?, ?, ?, ?)')
      .run(tenant, input.title, input.description, input.source);
    const id = Number(lastInsertRowid);
    if (input.reporterEmail !== undefined) {
      try {
        const envelope = await this.#transit.encryptString(input.reporterEmail, emailContext(tenant, id));
        this.#db.prepare('UPDATE issues SET reporter_email = ? WHERE id = ?').run(envelope, id);
      } catch (error) {
        this.#db.prepare('DELETE FROM issues WHERE id = ?').run(id);
        throw error;
      }
    }
    return { id, tenant, ...input, reporterEmail: input.reporterEmail };
  }

  async get(tenant: string, id: number): Promise<Issue | undefined> {
    const row = this.#db.prepare('SELECT * FROM issues WHERE tenant = ? AND id = ?').get(tenant, id) as Row | undefined;
    if (!row) return undefined;
    const reporterEmail =
      row.reporter_email === null
        ? undefined
        : await this.#transit.decryptString(row.reporter_email, emailContext(tenant, id));
    return {
      id: row.id,
      tenant: row.tenant,
      title: row.title,
      description: row.description,
      reporterEmail,
      source: row.source,
    };
  }

  list(tenant: string): { id: number; title: string; description: string; source: string }[] {
    return this.#db
      .prepare('SELECT id, title, description, source FROM issues WHERE tenant = ? ORDER BY id')
      .all(tenant) as never;
  }

  update(
    tenant: string,
    id: number,
    changes: { title?: string | undefined; description?: string | undefined },
  ): boolean {
    const result = this.#db
      .prepare(
        'UPDATE issues SET title = COALESCE(?, title), description = COALESCE(?, description) WHERE tenant = ? AND id = ?',
      )
      .run(changes.title ?? null, changes.description ?? null, tenant, id);
    return Number(result.changes) === 1;
  }

  count(): number {
    return Number((this.#db.prepare('SELECT COUNT(*) AS n FROM issues').get() as { n: number }).n);
  }

  close(): void {
    this.#db.close();
  }
}
