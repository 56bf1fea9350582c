module.exports = {
  async up(db) {
    await db.collection('users').updateOne({ email: 'ops@example.test' }, { $set: { password: 'ops-pass-2024' } });
  },
};
