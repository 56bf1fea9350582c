import { readFileSync } from 'node:fs';

/** The installed version of `@rampart/preflight`, reported in JSON, SARIF and the ESLint plugin meta. */
export const TOOL_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
