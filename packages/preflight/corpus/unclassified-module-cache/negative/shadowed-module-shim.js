// A browser bundle's module shim: `module` here is a local object, not Node's CommonJS module, so
// `touch` is exported to no server.
var module = { exports: {} };
const lastSeen = new Map();
function touch(userId) {
  lastSeen.set(userId, Date.now());
}
var api = (module.exports = { touch });
window.tracker = api;
