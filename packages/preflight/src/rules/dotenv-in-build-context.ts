import { copyInstructions, copySourceIncludes } from '../dockerfile.ts';
import { cleanPath, isIgnored, parseDockerignore } from '../dockerignore.ts';
import { PreflightError } from '../errors.ts';
import type { ProjectContext, ProjectFinding, ProjectRule } from '../project.ts';

const ID = 'dotenv-in-build-context';

const DOCKERFILE = /(^|\/)(Dockerfile(\.[^/]+)?|[^/]+\.Dockerfile)$/;
const DOTENV = /(^|\/)\.env[^/]*$/;
const ALLOWED = /(^|\/)\.env\.(example|sample|template|dist)$/;

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

/** A Docker build: the context directory and the Dockerfile, both relative to the scan root. */
interface Build {
  readonly context: string;
  readonly dockerfile: string;
}

const COMPOSE = /(^|\/)(docker-)?compose(\.[^/]+)?\.ya?ml$/;

/**
 * `build:` entries of a compose file. Compose files are YAML, but `build` has two shapes (a string,
 * or a map with `context` and `dockerfile`, in block or flow style), so reading indentation and one
 * `{ … }` line is enough and needs no parser.
 */
export function composeBuilds(composeFile: string, text: string): Build[] {
  const base = dirOf(composeFile);
  const builds: Build[] = [];
  const lines = text.split(/\r?\n/);
  const unquote = (v: string): string =>
    v
      .replace(/\s+#.*$/, '')
      .trim()
      .replace(/^["']|["']$/g, '');
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)build:\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const indent = match[1]!.length;
    let context = unquote(match[2] ?? '');
    let dockerfile = 'Dockerfile';
    const flow = /^\{(.*)\}$/.exec(context);
    if (flow) {
      // The flow map form: `build: { context: ., dockerfile: api/Dockerfile }`.
      context = '.';
      for (const part of flow[1]!.split(',')) {
        const entry = /^\s*["']?(context|dockerfile)["']?\s*:\s*(.+)$/.exec(part);
        if (entry?.[1] === 'context') context = unquote(entry[2]!);
        if (entry?.[1] === 'dockerfile') dockerfile = unquote(entry[2]!);
      }
    } else if (context === '') {
      context = '.';
      for (let j = i + 1; j < lines.length; j++) {
        const line = lines[j]!;
        if (line.trim() === '' || line.trim().startsWith('#')) continue;
        if (line.length - line.trimStart().length <= indent) break;
        const entry = /^\s*(context|dockerfile):\s*(.+)$/.exec(line);
        if (entry?.[1] === 'context') context = unquote(entry[2]!);
        if (entry?.[1] === 'dockerfile') dockerfile = unquote(entry[2]!);
      }
    }
    if (/^[a-z]+:\/\//i.test(context) || context.startsWith('git@')) continue;
    const contextDir = cleanPath(base === '' ? context : `${base}/${context}`);
    if (contextDir.startsWith('..') || contextDir.startsWith('/')) continue;
    const root = contextDir === '.' ? '' : contextDir;
    builds.push({ context: root, dockerfile: cleanPath(root === '' ? dockerfile : `${root}/${dockerfile}`) });
  }
  return builds;
}

function builds(project: ProjectContext): Build[] {
  const all: Build[] = project.files
    .filter((f) => DOCKERFILE.test(f) && !/\.(dockerignore|md|txt)$/.test(f))
    .map((dockerfile) => ({ context: dirOf(dockerfile), dockerfile }));
  for (const file of project.files.filter((f) => COMPOSE.test(f))) {
    const text = project.read(file);
    // Unreadable: the scan reports it as not scanned; its builds are unknown.
    if (text === undefined) continue;
    for (const build of composeBuilds(file, text)) {
      if (
        project.files.includes(build.dockerfile) &&
        !all.some((b) => b.context === build.context && b.dockerfile === build.dockerfile)
      ) {
        all.push(build);
      }
    }
  }
  return all;
}

function check(project: ProjectContext): ProjectFinding[] {
  const out: ProjectFinding[] = [];
  for (const { context, dockerfile } of builds(project)) {
    const prefix = context === '' ? '' : `${context}/`;
    // BuildKit reads `<Dockerfile>.dockerignore` first, then the context's `.dockerignore`.
    const ignoreFile = [`${dockerfile}.dockerignore`, `${prefix}.dockerignore`].find((f) => project.files.includes(f));
    const dockerfileText = project.read(dockerfile);
    const ignoreText = ignoreFile === undefined ? '' : project.read(ignoreFile);
    // An unreadable Dockerfile or .dockerignore leaves this build unknown: the scan reports the file
    // as not scanned, which fails it as a finding would.
    if (dockerfileText === undefined || ignoreText === undefined) continue;
    let patterns: ReturnType<typeof parseDockerignore> = [];
    if (ignoreFile) {
      try {
        patterns = parseDockerignore(ignoreText);
      } catch (error) {
        if (!(error instanceof PreflightError)) throw error;
        out.push({
          ruleId: ID,
          severity: 'error',
          message: `${error.message} Docker refuses to build with it.`,
          file: ignoreFile,
          start: 0,
          end: 0,
          key: `invalid:${ignoreFile}`,
          hideSnippet: true,
        });
        continue;
      }
    }
    const copies = copyInstructions(dockerfileText);
    for (const file of [...project.files, ...(project.excludedDotenv ?? [])]) {
      if (!file.startsWith(prefix) || !DOTENV.test(file) || ALLOWED.test(file)) continue;
      const inContext = file.slice(prefix.length);
      if (isIgnored(patterns, inContext)) continue;
      const copy = copies.find((c) => c.sources.some((s) => copySourceIncludes(s, inContext)));
      const where = ignoreFile ? `not excluded by ${ignoreFile}` : 'there is no .dockerignore';
      const fix = 'Add ".env*" and "**/.env*" (with "!**/.env.example") to .dockerignore and pass secrets at run time.';
      out.push({
        ruleId: ID,
        severity: 'error',
        message: copy
          ? `${file} is in the build context (${context === '' ? '.' : context}) of ${dockerfile} (${where}) and ${copy.instruction} on line ${lineOf(dockerfileText, copy.start)} copies it into the image. ${fix}`
          : `${file} is in the build context (${context === '' ? '.' : context}) of ${dockerfile} (${where}): it is sent to the builder and one COPY away from the image. ${fix}`,
        file: copy ? dockerfile : (ignoreFile ?? dockerfile),
        start: copy ? copy.start : 0,
        end: copy ? copy.start : 0,
        // Copied into the image is a different (worse) finding than sent to the builder: a baseline
        // that accepted the one must not hide the other.
        key: copy ? `copied:${context}:${dockerfile}:${file}` : `${context}:${dockerfile}:${file}`,
        hideSnippet: !copy,
      });
    }
  }
  return out;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** `dotenv-in-build-context`: `.env*` files a Docker build can see (and maybe copy). */
export const dotenvInBuildContext: ProjectRule = {
  id: ID,
  severity: 'error',
  summary: 'A .env file is inside a Docker build context (.dockerignore evaluated with Docker semantics).',
  fix: 'Exclude .env* in .dockerignore (keep !.env.example) and provide secrets at run time, not build time.',
  check,
};
