// The parameter defaults to the env object but is replaced by a file's contents before the read:
// the fallback applies to the file, not to the environment.
import { readFileSync } from 'node:fs';

export function loadSettings(source = process.env) {
  source = JSON.parse(readFileSync('settings.json', 'utf8'));
  return source.JWT_SECRET || 'dev-secret-value';
}
