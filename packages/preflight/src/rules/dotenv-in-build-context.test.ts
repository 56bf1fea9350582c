import { describe, expect, it } from 'vitest';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { copyInstructions, copySourceIncludes } from '../dockerfile.ts';
import { composeBuilds } from './dotenv-in-build-context.ts';

const { write, reported } = useTempProject('dotenv-in-build-context');
const DOCKERFILE = 'FROM node:24\nCOPY package.json ./\n';

describe('dotenvInBuildContext in directories the scan excludes by default', () => {
  it('reports .env files in build output and framework output inside a build context', async () => {
    write({
      Dockerfile: DOCKERFILE,
      'packages/api/dist/.env': 'A=1\n',
      'apps/web/.next/standalone/.env.production': 'A=1\n',
    });
    expect(await reported()).toEqual(['Dockerfile:1', 'Dockerfile:1']);
  });

  it('names the COPY that copies a build directory holding a .env', async () => {
    write({ Dockerfile: `${DOCKERFILE}COPY dist ./dist\n`, 'dist/.env': 'A=1\n' });
    expect(await reported()).toEqual(['Dockerfile:3']);
  });

  it('does not report .env files of dependencies, nor build output the .dockerignore excludes', async () => {
    write({
      Dockerfile: DOCKERFILE,
      '.dockerignore': 'coverage\n',
      'node_modules/some-lib/.env': 'A=1\n',
      'dist/node_modules/some-lib/.env': 'A=1\n',
      'coverage/.env': 'A=1\n',
      'dist/.env.example': 'A=\n',
    });
    expect(await reported()).toEqual([]);
  });

  it("honours the caller's excludes and looks at most four levels below an excluded directory", async () => {
    write({ Dockerfile: DOCKERFILE, 'dist/fixtures/.env': 'A=1\n', 'dist/a/b/c/d/e/.env': 'A=1\n' });
    expect(await reported(['**/fixtures'])).toEqual([]);
    expect(await reported()).toEqual(['Dockerfile:1']);
  });
});

describe('dotenvInBuildContext with compose builds', () => {
  it('reports a root .env copied by a Dockerfile that a flow-style compose build names', async () => {
    write({
      'compose.yaml': 'services:\n  api:\n    build: { context: ., dockerfile: api/Dockerfile }\n',
      'api/Dockerfile': 'FROM node:24\nCOPY . .\n',
      '.env': 'A=1\n',
    });
    expect(await reported()).toEqual(['api/Dockerfile:2']);
  });
});

describe('composeBuilds', () => {
  it('reads both the string and the map form of build, relative to the compose file', () => {
    const text = [
      'services:',
      '  web:',
      '    build: ./web',
      '  api:',
      '    build:',
      '      # the monorepo root, so shared packages are in the context',
      "      context: '..'",
      '      dockerfile: deploy/api/Dockerfile',
      '    environment:',
      '      PORT: 3000',
    ].join('\n');
    expect(composeBuilds('deploy/docker-compose.yml', text)).toEqual([
      { context: 'deploy/web', dockerfile: 'deploy/web/Dockerfile' },
      { context: '', dockerfile: 'deploy/api/Dockerfile' },
    ]);
  });

  it('reads the flow map form of build', () => {
    const text = [
      'services:',
      '  api:',
      '    build: { context: ., dockerfile: api/Dockerfile }',
      '  web:',
      '    build: {dockerfile: \'web.Dockerfile\', context: "./web"}  # the web app',
      '  worker:',
      '    build: { context: ./worker }',
    ].join('\n');
    expect(composeBuilds('compose.yaml', text)).toEqual([
      { context: '', dockerfile: 'api/Dockerfile' },
      { context: 'web', dockerfile: 'web/web.Dockerfile' },
      { context: 'worker', dockerfile: 'worker/Dockerfile' },
    ]);
  });

  it('skips remote contexts and contexts outside the scanned tree', () => {
    expect(
      composeBuilds(
        'compose.yaml',
        'services:\n  a:\n    build: https://example.test/repo.git\n  b:\n    build: ../elsewhere\n',
      ),
    ).toEqual([]);
  });
});

describe('copyInstructions', () => {
  it('reads shell and JSON forms, joins continuations, and skips COPY --from', () => {
    const dockerfile = [
      'FROM node:24 AS build',
      'COPY --chown=node:node package.json \\',
      '     pnpm-lock.yaml ./',
      'COPY ["src", "/app/src"]',
      'COPY --from=build /app/dist /app/dist',
      'ADD https://example.test/file.tgz /tmp/',
    ].join('\n');
    expect(copyInstructions(dockerfile).map((c) => c.sources)).toEqual([
      ['package.json', 'pnpm-lock.yaml'],
      ['src'],
      [],
    ]);
  });

  it('matches sources as Docker does: globs per segment, directories include their contents', () => {
    expect(copySourceIncludes('.', '.env')).toBe(true);
    expect(copySourceIncludes('./config/', 'config/.env')).toBe(true);
    expect(copySourceIncludes('.env*', '.env.production')).toBe(true);
    expect(copySourceIncludes('*.json', 'config/.env')).toBe(false);
    expect(copySourceIncludes('src', '.env')).toBe(false);
  });
});
