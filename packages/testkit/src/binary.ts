import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TestkitError } from './errors.ts';

/** Finds an executable on PATH (or an explicit path); `undefined` when absent. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Like {@link findExecutable} but throws `ERR_TESTKIT_BINARY_NOT_FOUND` with an install hint. */
export function requireExecutable(name: string, installHint: string): string {
  const found = findExecutable(name);
  if (found === undefined) {
    throw new TestkitError('ERR_TESTKIT_BINARY_NOT_FOUND', `${name} was not found on PATH. ${installHint}`);
  }
  return found;
}
