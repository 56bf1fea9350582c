// The required module is itself the helper: its call falls back to a literal.
const readSetting = require('./env');
module.exports = { sessionSecret: readSetting('SESSION_SECRET') || 'keyboard-cat-dev' };
