// Rebinding bare `exports`, even inside a declaration, exports nothing: `touch` is no handler.
const lastSeen = new Map();
function touch(userId) {
  lastSeen.set(userId, Date.now());
}
const api = (exports = { touch });
api.version = 1;
