// A TypeScript source compiled to CommonJS: a value import and `module.exports`, which works only
// under `module: commonjs`, so the file is read as CommonJS.
import { Request } from 'express';
const lastSeen = new Map<string, number>();
function touch(req: Request): void {
  lastSeen.set(String(req.ip), Date.now());
}
module.exports = { touch };
