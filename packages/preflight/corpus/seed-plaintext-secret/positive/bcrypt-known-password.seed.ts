// The password is hashed, but it is written in the source: anyone who reads it can sign in.
import bcrypt from 'bcrypt';
import type { Knex } from 'knex';

export async function seed(knex: Knex): Promise<void> {
  await knex('users').insert({ email: 'admin@example.test', password: await bcrypt.hash('admin123', 10) });
}
