// Express's generated apps: a module-scope `var exports` reuses the binding Node passes in, and
// `var exports = module.exports = {}` makes it an alias of the new export object.
const lastSeen = new Map();
var exports = (module.exports = {});
exports.touch = function (userId) {
  lastSeen.set(userId, Date.now());
};
