// `./run demo [--once]`: the main job. Starts Redis (unless REDIS_URL is set), the Vault dev server,
// the auth hub, the issues API and the webhook receiver on loopback, and walks through what each
// shortcut became (scripts/demo/walkthrough.ts). `--once` exits after the walkthrough, non-zero if a
// step failed; otherwise the stack keeps running until Ctrl-C.
//
// The walkthrough and the services read the workspace packages' sources (the `@rampart/source`
// export condition), so nothing needs building first; this launcher only adds that flag.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

// The test-kit (Redis, Vault dev server) refuses production; the services themselves get their own
// environment without NODE_ENV, i.e. the production profile.
const child = spawn(
  process.execPath,
  [
    '--conditions=@rampart/source',
    '--disable-warning=ExperimentalWarning',
    fileURLToPath(new URL('demo/walkthrough.ts', import.meta.url)),
    ...process.argv.slice(2),
  ],
  {
    // The IPC channel closes when this process dies, however it dies (even SIGKILL): the
    // walkthrough takes that as the signal to stop the stack rather than be orphaned.
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' },
  },
);
// Ctrl-C reaches the walkthrough too (same process group); it stops the stack, then we exit with it.
// A signal sent to this process alone (SIGTERM from a supervisor, SIGHUP when the terminal closes)
// is forwarded; the walkthrough stops once either way.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 0)));
