// The export object is bound to a local name first and filled through it (`var api = module.exports = {}`).
const lastSeen = new Map();
var api = (module.exports = {});
api.touch = function (userId) {
  lastSeen.set(userId, Date.now());
};
