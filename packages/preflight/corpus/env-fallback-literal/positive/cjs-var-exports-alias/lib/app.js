const env = require('./env');
module.exports = { jwtSecret: env.read('JWT_SECRET') || 'dev-jwt-secret' };
