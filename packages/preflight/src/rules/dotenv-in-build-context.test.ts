import { describe, expect, it } from 'vitest';
import { copyInstructions, copySourceIncludes } from '../dockerfile.ts';
import { composeBuilds } from './dotenv-in-build-context.ts';

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
