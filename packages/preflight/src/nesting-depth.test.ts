// The depth estimate guards oxc-parser, which crashes the process (no exception) at about 2,050
// nested template `${` and 2,900 brackets in a worker. Inputs here nest 1,500 levels: above the
// limit, below any crash, so a broken estimate fails a test instead of killing the run.
import { describe, expect, it } from 'vitest';
import { analyzeFile } from './engine.ts';
import { parseModule } from './js-parse.ts';
import { MAX_NESTING, nestingDepth } from './nesting-depth.ts';

const DEEP = 1500;
const parens = `${'('.repeat(DEEP)}1${')'.repeat(DEEP)}`;

const refused = (file: string, text: string): void => {
  expect(nestingDepth(text)).toBeGreaterThan(MAX_NESTING);
  const findings = analyzeFile(file, text).findings;
  expect(findings.map((f) => f.ruleId)).toEqual(['parse-error']);
  expect(findings[0]?.message).toContain(`nest deeper than ${MAX_NESTING} levels`);
};

const accepted = (file: string, text: string): void => {
  expect(nestingDepth(text)).toBeLessThan(20);
  expect(parseModule(file, text).errors).toEqual([]);
};

describe('nestingDepth: shapes that used to hide deep nesting', () => {
  it('recognises a regular expression holding a quote or comment-like text', () => {
    refused('a.ts', `const q = /'/; export const x = ${parens};\n`);
    refused('a.ts', `const q = /"/; export const x = ${parens};\n`);
    refused('a.ts', `const r = /[/*]/;\nexport const x = ${parens};\n`);
    refused('a.ts', `export function f(s) {\n  if (s) /'/.test(s);\n  return ${parens};\n}\n`);
    refused('a.ts', `export function f() {\n  return /'/.source + ${parens};\n}\n`);
  });

  it('tracks `${` inside template literals, nested templates included', () => {
    refused('a.ts', `export const t = \`\${${parens} + \`x\`}\`;\n`);
    refused('a.ts', `export const t = ${'`${'.repeat(DEEP)}1${'}`'.repeat(DEEP)};\n`);
  });

  it('ends an unterminated quote at the end of its line', () => {
    expect(nestingDepth(`const s = 'it's';\nexport const x = ${parens};\n`)).toBeGreaterThan(MAX_NESTING);
    expect(nestingDepth(`<p>Don't</p>\nexport const x = ${parens};\n`)).toBeGreaterThan(MAX_NESTING);
  });
});

describe('nestingDepth: ordinary large files', () => {
  it('accepts 400 JSX lines ending in `/>` and `>`', () => {
    const paths = Array.from({ length: 400 }, (_, i) => `    <path d="M${i} 0L1 1" fill="none" />`);
    accepted(
      'icon.tsx',
      ['export const Icon = () => (', '  <svg viewBox="0 0 24 24">', ...paths, '  </svg>', ');'].join('\n'),
    );
    const tags = Array.from({ length: 400 }, (_, i) => `    <li key="${i}" className="row">\n      item\n    </li>`);
    accepted('list.jsx', ['export const List = () => (', '  <ul>', ...tags, '  </ul>', ');'].join('\n'));
  });

  it('accepts 1,200 type aliases of generic types', () => {
    accepted('types.ts', Array.from({ length: 1200 }, (_, i) => `export type T${i} = Array<string>`).join('\n'));
    accepted(
      'types.ts',
      Array.from({ length: 1200 }, (_, i) => `export type M${i} = Map<string, Array<number>>;`).join('\n'),
    );
  });

  it('accepts 1,000 lines holding a regular expression with a bracket', () => {
    const lines = Array.from({ length: 1000 }, (_, i) =>
      i % 2 === 0 ? `export const r${i} = /\\(/` : `export const s${i} = (x: string) => x.replace(/\\(/g, '')`,
    );
    accepted('re.ts', lines.join('\n'));
  });

  it('keeps counting an expression continued on the next line', () => {
    const lines = ['export const x = a', ...Array.from({ length: DEEP }, () => '  ? 1 : a')];
    expect(nestingDepth(`${lines.join('\n')};`)).toBeGreaterThan(MAX_NESTING);
    const words = ['export const y = a', ...Array.from({ length: DEEP }, () => '  instanceof B ? 1 : a')];
    expect(nestingDepth(`${words.join('\n')};`)).toBeGreaterThan(MAX_NESTING);
  });
});

describe('nestingDepth: long chains of binary operators', () => {
  // oxc-parser crashed the process at 30,000 to 40,000 operators of one chain in a worker thread.
  it('refuses a chain of 20,000 binary operators, whatever the operator', () => {
    for (const op of ['&&', '||', '??', '+', '-', '*', '/', '%', '|', '&', '^', '<<', '>>>', '===', '!==', '<=', '>']) {
      refused('chain.ts', `export const x = ${Array.from({ length: 20_001 }, () => 'a').join(` ${op} `)};\n`);
    }
    refused('concat.js', `module.exports = ${Array.from({ length: 20_001 }, () => "'x'").join(' + ')};\n`);
  });

  it('accepts long chains split by commas, statements or brackets, and counts a chain inside brackets', () => {
    const statements = Array.from({ length: 2_000 }, () => `x = ${Array.from({ length: 11 }, () => 'a').join(' + ')};`);
    accepted('many.ts', `let x = 0;\n${statements.join('\n')}\n`);
    const args = `f(${Array.from({ length: 20_000 }, () => 'a + a').join(', ')});\n`;
    expect(nestingDepth(args)).toBeLessThan(20);
    expect(nestingDepth(`const y = (${Array.from({ length: 20_001 }, () => 'a').join(' && ')});\n`)).toBeGreaterThan(
      MAX_NESTING,
    );
  });
});

describe('nestingDepth: flat postfix chains', () => {
  // On the main thread oxc-parser crashed at about 70,000 tagged templates, 100,000 `[]` of an array
  // type, 200,000 calls and 250,000 member accesses in one chain (each link nests the chain once
  // more). These inputs are just past the estimate's limit and far below any crash: 15,015 links of
  // 4 units, 30,030 member accesses of 2.
  const LINKS = (MAX_NESTING + 1) * 15;

  it('refuses a chain of calls, member accesses, tagged templates, array types or `as` casts past the limit', () => {
    refused('calls.ts', `f${'()'.repeat(LINKS)};\n`);
    refused('members.ts', `x${'.a'.repeat(2 * LINKS)};\n`);
    refused('optional.ts', `x${'?.a'.repeat(2 * LINKS)};\n`);
    refused('elements.ts', `x${'[0]'.repeat(LINKS)};\n`);
    refused('tags.ts', `f${'`x`'.repeat(LINKS)};\n`);
    refused('types.ts', `type T = A${'[]'.repeat(LINKS)};\n`);
    refused('casts.ts', `x${' as T'.repeat(LINKS)};\n`);
    refused('satisfies.ts', `x${' satisfies T'.repeat(LINKS)};\n`);
    refused('lines.ts', `x${'\n  .a()'.repeat(Math.ceil((LINKS * 2) / 3))};\n`);
    refused('mixed.ts', `x = a${' && a'.repeat(LINKS / 3)}${'()'.repeat(LINKS)};\n`);
  });

  it('accepts long builder chains, many short chains and decimal numbers', () => {
    // A 2,000-call builder (4,000 links) costs about 270 levels: counted, far from refused.
    const builder = `export const q = db${'\n  .where(a)'.repeat(2_000)};\n`;
    expect(nestingDepth(builder)).toBeLessThan(MAX_NESTING / 2);
    expect(parseModule('builder.ts', builder).errors).toEqual([]);
    accepted('many.ts', Array.from({ length: 3_000 }, (_, i) => `a.b.c(d[e]).f\`x\`.g;// ${i}`).join('\n'));
    accepted('numbers.ts', `export const n = [${Array.from({ length: 20_000 }, () => '1.5').join(', ')}];\n`);
  });
});

describe('nestingDepth: statements, types, JSX and `new` nested past the limit', () => {
  // On the main thread oxc-parser crashed at about 6,700 of each statement shape, 3,350 braced
  // `if … else {` levels, 4,400 type arguments, 15,400 JSX elements and 17,600 `new`s: these stay
  // far below, and the estimate must still refuse them.
  const statements = (body: string): string => `export function f(a) {\n  ${body}\n}\n`;
  const branches = (n: number, branch: (i: number) => string): string =>
    Array.from({ length: n }, (_, i) => branch(i)).join('');

  it('refuses a long `else if` chain, braced or not, on one line or many', () => {
    refused(
      'chain.js',
      statements(`if (a === 0) { return 0; }${branches(DEEP, (i) => ` else if (a === ${i + 1}) { return ${i}; }`)}`),
    );
    refused(
      'chain.js',
      statements(`if (a === 0) return 0;${branches(DEEP, (i) => `\n  else if (a === ${i}) return ${i};`)}`),
    );
    refused(
      'chain.js',
      statements(`if (a === 0) return 0\n${branches(DEEP, (i) => `  else if (a === ${i}) return ${i}\n`)}`),
    );
    refused('chain.js', statements(`if (a) { a++; }${branches(DEEP, () => ' // c\n  else if (a) { a++; }')}`));
  });

  it('refuses unbraced statement heads, labels and `do` nested in each other', () => {
    refused('heads.js', statements(`${'if (a) '.repeat(DEEP)}return 1;`));
    refused('heads.js', statements(`${'if (a)\n'.repeat(DEEP)}return 1;`));
    refused('heads.js', statements(`${'while (a) '.repeat(DEEP)}a--;`));
    refused('heads.js', statements(`${'for (;;) '.repeat(DEEP)}break;`));
    refused('heads.js', statements(`${'for (const x of a) '.repeat(DEEP)}a--;`));
    refused('heads.js', statements(`${branches(DEEP, (i) => `l${i}: `)}a++;`));
    refused('heads.js', statements(`${'if (a) a++; else '.repeat(DEEP)}a--;`));
    refused('heads.js', statements(`${'do '.repeat(DEEP)}a--;${' while (a);'.repeat(DEEP)}`));
    refused('heads.js', statements(`${'if (a) { a++; } else { '.repeat(600)}a--;${' }'.repeat(600)}`));
  });

  it('refuses nested type arguments, JSX elements and `new` chains', () => {
    refused('types.ts', `export type T = ${'Array<'.repeat(DEEP)}string${'>'.repeat(DEEP)};\n`);
    refused('types.ts', `export type T = ${'Map<string, '.repeat(DEEP)}string${'>'.repeat(DEEP)};\n`);
    refused('tags.jsx', `export const x = ${'<a>'.repeat(DEEP)}${'</a>'.repeat(DEEP)};\n`);
    refused('tags.tsx', `export const x = (\n${'<div className="a">\n'.repeat(DEEP)}${'</div>\n'.repeat(DEEP)});\n`);
    refused('new.js', `export const x = ${'new '.repeat(DEEP)}X;\n`);
    refused('typeof.js', `export const x = ${'typeof '.repeat(DEEP)}x;\n`);
  });

  it('refuses a file with lone carriage returns for line breaks as it would with `\\n`', () => {
    refused('cr.js', `// a comment\r${statements(`${'if (a)\r'.repeat(DEEP)}return 1;`)}`);
  });

  it('accepts long flat code: sequential statements, short chains, switches, JSX lists, comparisons', () => {
    accepted('flat.js', statements(branches(3000, (i) => `if (a === ${i}) return ${i};\n  `)));
    accepted('flat.js', statements(branches(3000, (i) => `if (a === ${i}) { a++; } else { a--; }\n  `)));
    accepted('flat.js', statements(branches(3000, (i) => `if (a === ${i}) a++\n  else a--\n  `)));
    accepted('flat.js', statements(branches(3000, (i) => `while (a > ${i}) a--;\n  do a++; while (a < ${i});\n  `)));
    accepted(
      'flat.js',
      statements(`if (a === 0) { return 0; }${branches(15, (i) => ` else if (a === ${i}) { return ${i}; }`)}`),
    );
    accepted(
      'flat.js',
      statements(`switch (a) {\n${branches(3000, (i) => `    case ${i}: a++; break;\n`)}    default: a--;\n  }`),
    );
    accepted('flat.js', statements(branches(3000, (i) => `l${i}: for (;;) { break l${i}; }\n  `)));
    accepted('min.js', `export const f = (a, b, c) => [${branches(3000, () => 'a<b&&b<c||c<a?a:b,')}];\n`);
    accepted(
      'min.js',
      `export function g(a, b) { let x = 0; x = ${branches(3000, () => 'a<b?1:2,')}a<b; return x; }\n`,
    );
    accepted(
      'list.tsx',
      `export const L = ({ on }: { on: () => void }) => (\n  <ul>\n${branches(2000, (i) => `    <Item k={${i}} on={on}/>\n    <li>{${i}}</li>\n`)}  </ul>\n);\n`,
    );
    accepted(
      'types.ts',
      branches(3000, (i) => `interface I${i} { a: string; b: Array<number>; c?: Map<string, boolean> }\n`),
    );
  });
});

describe('nestingDepth: prefix words, word operators and class heritage past the limit', () => {
  // On the main thread (oxc-parser 0.159, measured in a child process) these crashed at about 8,500
  // `yield`s (with or without `*`), 10,500 `class extends`, 20,000 `readonly`, 27,000 `keyof` or
  // `unique`, 35,000 dotted namespace names, 60,000 prefix `++`, 108,000 parts of a JSX tag name,
  // 54,000 type arguments of one call, 3,500 `yield (…)` and 3,375 `[infer U extends …]` levels, and
  // 66,000 `in`/`instanceof` in one chain. The inputs are
  // one level (or one 15th of one) past the limit: far below any crash.
  const LEVELS = MAX_NESTING + 1;

  it('refuses chains of yield, TypeScript type operators and class expressions extending each other', () => {
    refused('yield.js', `export function* g() { ${'yield '.repeat(LEVELS)}1; }\n`);
    refused('yield.js', `export function* g() { ${'yield* '.repeat(LEVELS)}x; }\n`);
    refused('keyof.ts', `export type X = ${'keyof '.repeat(LEVELS)}T;\n`);
    refused('unique.ts', `export type X = ${'unique '.repeat(LEVELS)}symbol;\n`);
    refused('readonly.ts', `export type X = ${'readonly '.repeat(LEVELS)}T[];\n`);
    refused('infer.ts', `export type X<T> = T extends ${'infer '.repeat(LEVELS)}U ? 1 : 2;\n`);
    refused('class.js', `export const C = ${'class extends '.repeat(LEVELS)}Object${' {}'.repeat(LEVELS)};\n`);
    refused(
      'class.js',
      `export const C = ${Array.from({ length: LEVELS }, (_, i) => `class C${i} extends `).join('')}Object${' {}'.repeat(LEVELS)};\n`,
    );
    refused('namespace.ts', `namespace a${'.a'.repeat(LEVELS)} {}\n`);
    refused('increment.js', `export const v = ${'++'.repeat(LEVELS)}x;\n`);
    refused('member.jsx', `export const v = <a${'.a'.repeat(LEVELS * 15)} />;\n`);
    refused('typeargs.ts', `f${'<T>'.repeat(Math.ceil((LEVELS * 15) / 2))}();\n`);
    refused(
      'yield.js',
      `export function* g() { yield ${'(yield '.repeat(Math.ceil(LEVELS / 2))}1${')'.repeat(Math.ceil(LEVELS / 2))}; }\n`,
    );
    refused(
      'infer.ts',
      `type X<T> = T extends ${'[infer U extends '.repeat(Math.ceil(LEVELS / 2))}1${']'.repeat(Math.ceil(LEVELS / 2))} ? 1 : 2;\n`,
    );
  });

  it('counts `in` and `instanceof` as binary operators of a chain', () => {
    refused('in.js', `export const v = ${'x in '.repeat(LEVELS * 15)}y;\n`);
    refused('instanceof.js', `export const v = ${'x instanceof '.repeat(LEVELS * 15)}y;\n`);
  });

  it('accepts ordinary classes, for-in loops, readonly fields, generators and namespaces', () => {
    accepted(
      'flat.ts',
      Array.from(
        { length: 1500 },
        (_, i) =>
          `export class C${i} extends Base<T> implements I { readonly a: keyof T = 'x'; *g() { yield 1; yield* [2]; } m(o: object) { for (const k in o) if (k in o && o instanceof C${i}) return k; } }\nnamespace N${i}.M.L { export const x = 1; }`,
      ).join('\n'),
    );
  });
});
