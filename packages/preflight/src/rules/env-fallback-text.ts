// The env-fallback-literal forms outside JS: `${X:-…}` defaults in shell scripts and compose
// files, Spring's `${X:…}` in YAML/properties, and Dockerfile `ARG`/`ENV` values.
import type { RawFinding } from '../finding.ts';
import type { FileContext } from '../rule.ts';
import { isSecretName } from '../secret-names.ts';
import { braceExpansions } from '../source-text.ts';
import { finding, secretOrCredentialUrl } from './env-fallback-finding.ts';

// `${X:-…}`, `${X:=…}`, `${X-…}` (shell, compose, Dockerfile) and Spring's `${X:…}` in
// YAML/properties, X a secret name. Only the head is a pattern; braceExpansions finds the `}` on
// the same line in linear time.
const SHELL_DEFAULT = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-=])/g;
const SHELL_FILE = /\.(sh|bash|zsh)$/;
const SPRING_DEFAULT = /\$\{([A-Za-z_][A-Za-z0-9_.]*):/g;

const DOCKERFILE = /(^|\/)(Dockerfile[^/]*|[^/]+\.Dockerfile)$/;
// `ARG X=…` (a build-arg default) and `ENV X=…` / `ENV X …` (a literal baked into every layer
// after it), X a secret name. Values that reference another variable are not literals.
function checkDockerfile(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  const { source } = context;
  let instruction: 'ARG' | 'ENV' | undefined;
  for (let line = 1; line <= source.lineCount; line++) {
    const lineStart = source.lineStart(line);
    let text = source.line(line);
    let offset = lineStart;
    const continued = instruction !== undefined;
    if (!continued) {
      const head = /^[ \t]*(ARG|ENV)[ \t]+/i.exec(text);
      if (!head) continue;
      instruction = (head[1] ?? '').toUpperCase() as 'ARG' | 'ENV';
      offset += head[0].length;
      text = text.slice(head[0].length);
    }
    const continues = /\\[ \t]*$/.test(text);
    const body = continues ? text.replace(/\\[ \t]*$/, '') : text;
    const legacy =
      instruction === 'ENV' && !continued && /^[A-Za-z_][A-Za-z0-9_]*[ \t]+[^=\s]/.test(body) && !/^\S+=/.test(body);
    const pairs = legacy
      ? [/^([A-Za-z_][A-Za-z0-9_]*)[ \t]+(.*)$/.exec(body)]
      : [...body.matchAll(/(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)];
    for (const pair of pairs) {
      if (!pair) continue;
      const [whole, name = '', raw = ''] = pair;
      const value = raw.trim().replace(/^["']|["']$/g, '');
      if (value === '' || value.includes('$') || !isSecretName(name, 'env')) continue;
      const valueStart = offset + (pair.index ?? 0) + whole.length - raw.length;
      const form = instruction === 'ARG' ? 'a Dockerfile ARG default' : 'a Dockerfile ENV';
      out.push(
        finding(
          { start: valueStart - name.length - 1, end: valueStart + raw.length },
          name,
          value,
          form,
          [[valueStart, valueStart + raw.length]],
          instruction === 'ENV',
        ),
      );
    }
    if (!continues) instruction = undefined;
  }
  return out;
}

/** The secret defaults of a shell script, compose file, YAML/properties file or Dockerfile. */
export function checkText(context: FileContext): RawFinding[] {
  const out: RawFinding[] = [];
  const spring = /\.(ya?ml|properties)$/.test(context.file);
  const shell = SHELL_FILE.test(context.file) || /^#!.*\b(ba|z|da|k)?sh\b/.test(context.text);
  const seen = new Set<number>();
  for (const { head, valueStart, valueEnd } of braceExpansions(context.text, SHELL_DEFAULT)) {
    const [, name = '', operator = ''] = head;
    const raw = context.text.slice(valueStart, valueEnd);
    const value = raw.replace(/^["']|["']$/g, '');
    seen.add(head.index);
    // `${X:-}` is the empty default `set -u` scripts use to test for a missing variable: no secret.
    // Shell only, and only when nothing is glued after it (`"${X:-}dev-token"` is a literal
    // default); in compose/YAML an empty default starts the service with an empty secret.
    if (raw === '' && shell && !/^[\w./:@+-]/.test(context.text.slice(valueEnd + 1, valueEnd + 2))) continue;
    if (!secretOrCredentialUrl(name, value)) continue;
    out.push(
      finding({ start: head.index, end: valueEnd + 1 }, name, value, `\${${name}${operator}…}`, [
        [valueStart, valueEnd],
      ]),
    );
  }
  if (DOCKERFILE.test(context.file)) out.push(...checkDockerfile(context));
  if (spring) {
    for (const { head, valueStart, valueEnd } of braceExpansions(context.text, SPRING_DEFAULT)) {
      if (seen.has(head.index)) continue;
      const name = head[1] ?? '';
      const raw = context.text.slice(valueStart, valueEnd);
      if (/^[-=?+]/.test(raw)) continue;
      if (!secretOrCredentialUrl(name.split('.').at(-1) ?? name, raw)) continue;
      out.push(finding({ start: head.index, end: valueEnd + 1 }, name, raw, `\${${name}:…}`, [[valueStart, valueEnd]]));
    }
  }
  return out;
}
