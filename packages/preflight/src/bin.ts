#!/usr/bin/env node
import { main } from './cli.ts';

try {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  });
} catch (error) {
  // main maps failures to exit codes; this is the last guard, so a crash never exits 1 (findings).
  process.stderr.write(
    `rampart-preflight failed unexpectedly (${error instanceof Error ? error.name : typeof error}); the scan did not complete.\n`,
  );
  process.exitCode = 3;
}
