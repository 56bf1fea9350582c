// The export object is also bound to a local name in the same statement (`var app = module.exports = …`).
const lastSeen = new Map();
function touch(userId) {
  lastSeen.set(userId, Date.now());
}
var api = (module.exports = { touch });
api.version = 1;
