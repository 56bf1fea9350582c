import { copyInstructions, copySourceIncludes } from '../dockerfile.ts';
import { isIgnored, parseDockerignore } from '../dockerignore.ts';
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

function check(project: ProjectContext): ProjectFinding[] {
  const out: ProjectFinding[] = [];
  for (const dockerfile of project.files.filter((f) => DOCKERFILE.test(f) && !f.endsWith('.dockerignore'))) {
    const context = dirOf(dockerfile);
    const prefix = context === '' ? '' : `${context}/`;
    // BuildKit reads `<Dockerfile>.dockerignore` first, then the context's `.dockerignore`.
    const ignoreFile = [`${dockerfile}.dockerignore`, `${prefix}.dockerignore`].find((f) => project.files.includes(f));
    const dockerfileText = project.read(dockerfile);
    let patterns: ReturnType<typeof parseDockerignore> = [];
    if (ignoreFile) {
      try {
        patterns = parseDockerignore(project.read(ignoreFile));
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
    for (const file of project.files) {
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
          ? `${file} is in the build context of ${dockerfile} (${where}) and ${copy.instruction} on line ${lineOf(dockerfileText, copy.start)} copies it into the image. ${fix}`
          : `${file} is in the build context of ${dockerfile} (${where}): it is sent to the builder and one COPY away from the image. ${fix}`,
        file: copy ? dockerfile : (ignoreFile ?? dockerfile),
        start: copy ? copy.start : 0,
        end: copy ? copy.start : 0,
        key: `${dockerfile}:${file}`,
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
