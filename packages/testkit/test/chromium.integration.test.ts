import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHROMIUM_FLAGS, launchChromium, type TestChromium } from '../src/index.ts';

describe('launchChromium', () => {
  let chromium: TestChromium;
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium.stop();
  });

  it('renders a page and runs its script', async () => {
    const page = await chromium.newPage();
    await page.setContent('<p id="out"></p><script>document.getElementById("out").textContent = 1 + 1</script>');
    expect(await page.textContent('#out')).toBe('2');
  });

  it('loads a page served on loopback', async () => {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<title>loopback</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const page = await chromium.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(await page.title()).toBe('loopback');
    } finally {
      server.close();
    }
  });

  it('isolates contexts from each other', async () => {
    const a = await chromium.newContext();
    const b = await chromium.newContext();
    await a.addCookies([{ name: 'n', value: 'v', url: 'http://127.0.0.1/' }]);
    expect(await b.cookies()).toEqual([]);
  });

  it('passes the flags a locked-down machine needs', () => {
    expect(CHROMIUM_FLAGS).toEqual(
      expect.arrayContaining(['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']),
    );
  });

  it('writes nothing into HOME or the XDG directories (crash reports, dconf, caches)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'rampart-chromium-home-test-'));
    try {
      vi.stubEnv('HOME', home);
      vi.stubEnv('XDG_CONFIG_HOME', join(home, '.config'));
      vi.stubEnv('XDG_CACHE_HOME', join(home, '.cache'));
      vi.stubEnv('XDG_DATA_HOME', join(home, '.local', 'share'));
      const own = await launchChromium();
      try {
        const page = await own.newPage();
        await page.setContent('<p id="x">hi</p>');
        expect(await page.textContent('#x')).toBe('hi');
      } finally {
        await own.stop();
      }
      expect(await readdir(home, { recursive: true })).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
      await rm(home, { recursive: true, force: true });
    }
  });

  it.each([
    ['--remote-debugging-address=0.0.0.0', 'ERR_TESTKIT_NOT_LOOPBACK'],
    ['--remote-debugging-address=::', 'ERR_TESTKIT_NOT_LOOPBACK'],
    ['--Remote-Debugging-Address=192.168.1.10', 'ERR_TESTKIT_NOT_LOOPBACK'],
    ['--user-data-dir=/home/someone/.config/chromium', 'ERR_TESTKIT_INVALID_OPTION'],
    ['--crash-dumps-dir=/var/tmp', 'ERR_TESTKIT_INVALID_OPTION'],
    ['--enable-crash-reporter', 'ERR_TESTKIT_INVALID_OPTION'],
  ])('refuses the flag %s before starting a browser', async (flag, code) => {
    await expect(launchChromium({ args: [flag] })).rejects.toMatchObject({ name: 'TestkitError', code });
  });

  it.each([
    ['-remote-debugging-address=0.0.0.0', 'ERR_TESTKIT_NOT_LOOPBACK'],
    ['-crash-dumps-dir=/tmp/x', 'ERR_TESTKIT_INVALID_OPTION'],
    ['-User-Data-Dir=/home/someone/.config/chromium', 'ERR_TESTKIT_INVALID_OPTION'],
    ['-enable-crash-reporter', 'ERR_TESTKIT_INVALID_OPTION'],
  ])(
    'refuses the single-dash switch %s (Chromium reads it as the flag) before looking for a binary',
    async (flag, code) => {
      // A binary that does not exist: the refusal must come first, not ERR_TESTKIT_BINARY_NOT_FOUND.
      await expect(launchChromium({ args: [flag], executablePath: '/nonexistent/chromium' })).rejects.toMatchObject({
        name: 'TestkitError',
        code,
        message: expect.not.stringContaining('/tmp/x'),
      });
    },
  );

  it('explains how to install Chromium when the binary is missing', async () => {
    await expect(launchChromium({ executablePath: '/nonexistent/chromium' })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_BINARY_NOT_FOUND',
      message: expect.stringContaining('apt-get install chromium'),
    });
  });
});
