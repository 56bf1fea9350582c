import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, LaunchOptions, Page } from 'playwright-core';
import { findExecutable } from './binary.ts';
import { TestkitError } from './errors.ts';
import { makeManagedTempDir, removeManagedTempDir } from './process-registry.ts';
import { refuseInProduction } from './production-guard.ts';

/**
 * Flags that headless Chromium needs on a locked-down CI machine: no GPU, no sandbox (CI runs as
 * root), none of the background services that would try to reach Google's hosts, and no crash
 * reporter (its dumps can hold page memory, test secrets included).
 */
export const CHROMIUM_FLAGS: readonly string[] = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--disable-crash-reporter',
  '--disable-breakpad',
]);

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Options of {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /** Path to the browser. Default: `CHROMIUM_PATH`, else `/usr/bin/chromium` (Debian's package). */
  readonly executablePath?: string;
  /** Extra flags after {@link CHROMIUM_FLAGS}. */
  readonly args?: readonly string[];
  /** Launch timeout. Default 30 s. */
  readonly timeoutMs?: number;
}

/** A headless Chromium for tests. */
export interface TestChromium {
  readonly browser: Browser;
  /** A page in a fresh, isolated context (its own cookies and storage). */
  newPage(): Promise<Page>;
  /** A fresh isolated context. */
  newContext(): Promise<BrowserContext>;
  /** Closes the browser; Playwright removes the temporary user-data-dir. */
  stop(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless through `playwright-core` (no browser download), with a
 * fresh temporary user-data-dir and the flags in {@link CHROMIUM_FLAGS}.
 *
 * @example
 * ```ts
 * import { launchChromium } from '@rampart/testkit';
 *
 * const chromium = await launchChromium();
 * const page = await chromium.newPage();
 * await page.setContent('<p id="x">hi</p>');
 * console.log(await page.textContent('#x'));
 * await chromium.stop();
 * ```
 */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<TestChromium> {
  refuseInProduction('launchChromium');
  refuseUnsafeFlags(options.args ?? []);
  const requested = options.executablePath ?? process.env.CHROMIUM_PATH?.trim();
  const executablePath = requested ? findExecutable(requested) : CANDIDATES.map((c) => findExecutable(c)).find(Boolean);
  if (executablePath === undefined) {
    throw new TestkitError(
      'ERR_TESTKIT_BINARY_NOT_FOUND',
      'Chromium was not found. Install it (Debian/Ubuntu: `apt-get install chromium`) or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch (error) {
    throw new TestkitError(
      'ERR_TESTKIT_BINARY_NOT_FOUND',
      'launchChromium() needs the optional peer dependency playwright-core: `npm install -D playwright-core`.',
      { cause: error },
    );
  }
  const scratch = await makeManagedTempDir('chromium');
  const launchOptions: LaunchOptions = {
    executablePath,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...(options.args ?? [])],
    timeout: options.timeoutMs ?? 30_000,
    // Chromium keeps its own scratch files (org.chromium.Chromium.*) in TMPDIR and leaves them
    // when it is killed; give it a directory the test-kit removes whatever happens. HOME and the
    // XDG directories point there too: Debian's Chromium creates ~/.config/chromium/Crash Reports
    // and dconf ~/.cache/dconf, which would otherwise outlive the test in the user's home.
    env: {
      ...process.env,
      TMPDIR: scratch,
      HOME: scratch,
      XDG_CONFIG_HOME: join(scratch, '.config'),
      XDG_CACHE_HOME: join(scratch, '.cache'),
      XDG_DATA_HOME: join(scratch, '.local', 'share'),
    },
    // The test-kit's exit hooks end the process on signals; Playwright's `exit` hook then kills
    // the browser (or, when the test-kit re-raises the signal, the browser ends as its pipe closes).
    // Playwright's own SIGTERM handler would close the browser but keep the process.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  };
  let browser: Browser;
  try {
    browser = await playwright.chromium.launch(launchOptions);
  } catch (error) {
    await removeManagedTempDir(scratch);
    throw new TestkitError('ERR_TESTKIT_START_FAILED', `Chromium at ${executablePath} did not start.`, {
      cause: error,
    });
  }
  const contexts = new Set<BrowserContext>();
  const newContext = async (): Promise<BrowserContext> => {
    const context = await browser.newContext();
    contexts.add(context);
    context.once('close', () => contexts.delete(context));
    return context;
  };
  return {
    browser,
    newContext,
    async newPage() {
      return (await newContext()).newPage();
    },
    async stop() {
      await Promise.allSettled([...contexts].map((context) => context.close()));
      await browser.close();
      await removeManagedTempDir(scratch);
    },
  };
}

/**
 * Refuses extra flags that would expose the browser beyond loopback or write outside its scratch
 * directory, every refused flag listed at once (`--name`, `-name`, with or without `=value`, any
 * letter case: Chromium's command line on POSIX takes a single dash as a switch prefix too).
 */
function refuseUnsafeFlags(args: readonly string[]): void {
  const notLoopback: string[] = [];
  const refused: string[] = [];
  for (const arg of args) {
    const [rawName = '', value] = arg.split(/=(.*)/s, 2);
    const given = rawName.toLowerCase();
    // Only the name as given goes into the message, never the value.
    const name = given.replace(/^-{1,2}/, '');
    if (name === given) continue; // no switch prefix: Chromium reads it as a URL to open, not a flag
    if (name === 'remote-debugging-address') {
      if (!(value !== undefined && isIPv4(value) && value.split('.')[0] === '127')) notLoopback.push(given);
    } else if (name === 'user-data-dir' || name === 'crash-dumps-dir' || name === 'enable-crash-reporter') {
      refused.push(given);
    }
  }
  if (notLoopback.length > 0) {
    throw new TestkitError(
      'ERR_TESTKIT_NOT_LOOPBACK',
      `launchChromium() args: ${notLoopback.join(', ')} must be an IPv4 address in 127.0.0.0/8 (a debugging port elsewhere hands the browser to other machines). Drop it or use 127.0.0.1.${refused.length > 0 ? ` Also refused: ${refused.join(', ')}.` : ''}`,
    );
  }
  if (refused.length > 0) {
    throw new TestkitError(
      'ERR_TESTKIT_INVALID_OPTION',
      `launchChromium() args may not set ${refused.join(', ')}: the profile is Playwright's temporary one, and crash dumps (which can hold page memory) stay off and inside the test-kit's scratch directory. Remove the flag.`,
    );
  }
}
