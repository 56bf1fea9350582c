import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import noSecrets from 'eslint-plugin-no-secrets';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { analyzeFile } from '../src/engine.ts';
import plugin from '../src/eslint.ts';

const CORPUS = fileURLToPath(new URL('../corpus/env-fallback-literal', import.meta.url));
const jsCases = (label: 'positive' | 'negative'): Array<{ name: string; text: string }> =>
  readdirSync(join(CORPUS, label))
    .filter((f) => /\.[cm]?[jt]s$/.test(f))
    .map((name) => ({ name, text: readFileSync(join(CORPUS, label, name), 'utf8') }));

// Plain JS only: the peer runs on ESLint's default parser, which has no TypeScript.
const strip = (text: string): string =>
  text.replace(/ as string \| undefined/g, '').replace(/: [A-Za-z<>[\], |]+(?=[,)=;])/g, '');

const positives = jsCases('positive').map((c) => ({ ...c, text: strip(c.text) }));
const BYTES = positives.reduce((n, c) => n + c.text.length, 0);

const peerConfig: Linter.Config[] = [
  { plugins: { 'no-secrets': noSecrets as unknown as ESLint.Plugin }, rules: { 'no-secrets/no-secrets': 'error' } },
];
const ours = new ESLint({
  overrideConfigFile: true,
  overrideConfig: [plugin.configs.recommended as unknown as Linter.Config],
});
const peer = new ESLint({ overrideConfigFile: true, overrideConfig: peerConfig });

export default defineBench('@rampart/preflight', async (b) => {
  const lintAll = async (eslint: ESLint): Promise<void> => {
    for (const c of positives) await eslint.lintText(c.text, { filePath: `src/${c.name.replace(/\.ts$/, '.js')}` });
  };
  await b.compare('scan the fallback corpus (all JS rules, CLI engine)', {
    ours: () => {
      for (const c of positives) analyzeFile(c.name, c.text);
    },
    peer: { name: 'ESLint + eslint-plugin-no-secrets', fn: () => lintAll(peer) },
    bytesPerOp: BYTES,
    note: `${positives.length} small modules, ${BYTES} bytes`,
  });
  await b.compare('scan the fallback corpus through ESLint', {
    ours: () => lintAll(ours),
    peer: { name: 'ESLint + eslint-plugin-no-secrets', fn: () => lintAll(peer) },
    bytesPerOp: BYTES,
    note: "both inside ESLint; ours reuses ESLint's AST",
  });

  // Detection, not speed: which fallbacks each tool reports at all.
  let oursFound = 0;
  let peerFound = 0;
  for (const c of positives) {
    if (analyzeFile(c.name, c.text).findings.some((f) => f.ruleId === 'env-fallback-literal')) oursFound++;
    const [result] = await peer.lintText(c.text, { filePath: 'case.js' });
    if ((result?.messages ?? []).some((m) => m.ruleId === 'no-secrets/no-secrets')) peerFound++;
  }
  b.record({
    operation: 'env fallbacks detected (JS/TS corpus positives)',
    ours: oursFound,
    peer: peerFound,
    peerName: 'eslint-plugin-no-secrets (entropy)',
    unit: `of ${positives.length}`,
    higherIsBetter: true,
    note: 'demo values such as "keyboard cat" have low entropy',
  });
});
