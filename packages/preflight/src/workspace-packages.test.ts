import { describe, expect, it } from 'vitest';
import { meansWorkspacePackage, type WorkspacePackage } from './workspace-packages.ts';

const pkg = (version: string): WorkspacePackage => ({ dir: 'packages/config', manifest: { name: 'config', version } });

describe('meansWorkspacePackage', () => {
  it.each([
    [undefined, '1.0.0', true],
    ['workspace:*', '1.0.0', true],
    ['workspace:^', '1.0.0', true],
    ['file:../config', '1.0.0', true],
    ['*', '1.0.0', true],
    ['1.2.3', '1.2.3', true],
    ['^1.2.0', '1.2.3', true],
    ['^1.2.30', '1.2.3', false],
    ['^10.0.0', '0.0.0', false],
    ['^11.0.0', '1.0.0', false],
    ['~1.2.0', '1.2.9', true],
    ['~1.2.0', '1.3.0', false],
    ['^0.2.0', '0.2.5', true],
    ['^0.2.0', '0.3.0', false],
    ['>=1.0.0 <2.0.0', '1.5.0', true],
    ['^1', '1.5.0', true],
    ['1.x', '1.5.0', true],
    ['^2.0.0', '2.0.0-rc.1', false],
    ['1.2.3', '1.2.3-beta.1', false],
    ['git+https://example.test/config.git', '1.0.0', false],
    ['npm:other-config@^1.0.0', '1.0.0', false],
    ['catalog:', '1.0.0', false],
    ['', '1.0.0', true],
  ])('range %s against version %s: %s', (range, version, expected) => {
    expect(meansWorkspacePackage(range, pkg(version))).toBe(expected);
  });
});
