// node-pg-migrate: the object maps columns to their types, no value is written.
exports.up = (pgm) => {
  pgm.createTable('users', {
    id: 'id',
    email: { type: 'text', notNull: true },
    password_hash: 'text',
    api_token: 'varchar(64)',
  });
  pgm.addColumns('clients', { client_secret: 'text' });
};
