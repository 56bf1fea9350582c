// migrate-mongo: renames a field and indexes another; no secret value is written.
module.exports = {
  async up(db) {
    await db.collection('users').updateMany({}, { $rename: { password: 'passwordHash' } });
    await db.collection('apikeys').createIndex({ apiKey: 'hashed' });
  },
  async down(db) {
    await db.collection('users').updateMany({}, { $rename: { passwordHash: 'password' } });
  },
};
