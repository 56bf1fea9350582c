// The usual CommonJS form (Express's): the export object is bound to both names in one chain.
const attempts = new Map();
function recordFailure(ip) {
  attempts.set(ip, (attempts.get(ip) ?? 0) + 1);
}
exports = module.exports = { recordFailure };
