// Process lifecycle shared by the example's entry point: start, listen, report readiness, stop
// cleanly on SIGTERM/SIGINT or when the parent that forked us goes away.
import type { Server } from 'node:http';

export interface Started {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  readonly close: () => Promise<void>;
}

export async function runService(name: string, start: () => Promise<Started>): Promise<void> {
  let started: Started;
  try {
    started = await start();
    await new Promise<void>((resolve, reject) => {
      started.server.once('error', reject);
      started.server.listen(started.port, started.host, () => resolve());
    });
  } catch (error) {
    // Start-up errors of the packages name keys and options, never values: safe to print.
    process.stderr.write(`${name}: refused to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const url = `http://${started.host}:${started.port}`;
  process.stdout.write(`${name}: listening on ${url}\n`);
  process.send?.({ ready: name, url });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    started.server.closeAllConnections();
    started.server.close();
    void started.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
}
