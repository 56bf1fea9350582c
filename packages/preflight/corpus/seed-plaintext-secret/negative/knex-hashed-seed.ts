import bcrypt from 'bcrypt';
export async function seed(knex) {
  const password = await bcrypt.hash(requireSecret('SEED_ADMIN_PASSWORD'), 12);
  await knex('users').insert({ email: 'admin@example.test', password });
}
