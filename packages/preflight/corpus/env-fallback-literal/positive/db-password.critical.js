module.exports = { password: process.env.DB_PASSWORD || 'postgres', host: process.env.DB_HOST || 'localhost' };
