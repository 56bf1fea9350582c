const attempts = new Map();
function recordFailure(ip) {
  attempts.set(ip, (attempts.get(ip) ?? 0) + 1);
}
module.exports = { recordFailure };
