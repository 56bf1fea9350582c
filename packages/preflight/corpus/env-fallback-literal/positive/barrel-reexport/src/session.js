// CommonJS, through a barrel that re-exports the helper.
const { envOr } = require('./config');

module.exports = { secret: envOr('SESSION_SECRET', 'super-secret-session-key') };
