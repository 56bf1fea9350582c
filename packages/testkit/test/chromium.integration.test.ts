import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('explains how to install Chromium when the binary is missing', async () => {
    await expect(launchChromium({ executablePath: '/nonexistent/chromium' })).rejects.toMatchObject({
      code: 'ERR_TESTKIT_BINARY_NOT_FOUND',
      message: expect.stringContaining('apt-get install chromium'),
    });
  });
});
