// Express style: `var exports = module.exports = {}` rebinds Node's `exports` to the new export object.
var exports = (module.exports = {});
exports.read = (name) => process.env[name];
