// scripts/test.ts, bench.ts and release.ts run their commands through runInForeground: a signal
// sent to the script must reach the command, and the script must exit with it, not orphan it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../packages/testkit/src/index.ts';

const helper = fileURLToPath(new URL('../scripts/foreground-child.ts', import.meta.url));

function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A script that runs a long command in the foreground, then would go on to a next step. */
function startScript(): { script: ReturnType<typeof spawn>; output: () => string } {
  const source = `
    import { runInForeground } from ${JSON.stringify(helper)};
    await runInForeground(process.execPath, ['-e', 'console.log("command " + process.pid); setInterval(() => {}, 1000)'], { stdio: 'inherit' });
    console.log('next step');
  `;
  const script = spawn(process.execPath, ['--input-type=module', '-e', source], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  script.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  return { script, output: () => output };
}

describe('runInForeground', () => {
  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', 130],
  ] as const) {
    it(`passes ${signal} on to the command and exits with ${status} once it is gone`, async () => {
      const { script, output } = startScript();
      await waitFor(() => /command \d+/.test(output()), { timeoutMs: 20_000, what: 'the command to start' });
      const commandPid = Number(/command (\d+)/.exec(output())?.[1]);
      const exited = new Promise<number | null>((resolve) => script.once('exit', (code) => resolve(code)));
      script.kill(signal);
      expect(await exited).toBe(status);
      await waitFor(() => !isAlive(commandPid), { timeoutMs: 10_000, what: 'the command to end' });
      expect(output()).not.toContain('next step');
    });
  }
});
