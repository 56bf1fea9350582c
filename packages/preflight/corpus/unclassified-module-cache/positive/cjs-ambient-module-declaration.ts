// NestJS hot reload: `declare const module: any` only tells TypeScript the name exists; it emits no
// code, so `module.exports` below is Node's.
declare const module: any;
const lastSeen = new Map<string, number>();
function touch(userId: string): void {
  lastSeen.set(userId, Date.now());
}
module.exports = { touch };
