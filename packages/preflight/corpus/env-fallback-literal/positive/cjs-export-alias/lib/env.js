// The export object is bound to a local name and the helper set on it (`var env = module.exports = {}`).
var env = (module.exports = {});
env.read = (name) => process.env[name];
