module.exports = {
  up: (queryInterface) =>
    queryInterface.bulkInsert('Integrations', [{ name: 'stripe', apiKey: 'sk_test_seeded_key_0001' }]),
};
