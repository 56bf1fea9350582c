// Process lifecycle shared by the example's entry point: start, listen, report readiness, stop
// gracefully on SIGTERM/SIGINT or when the parent that forked us goes away.
import type { Server, ServerResponse } from 'node:http';

export interface Started {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** Releases what the handlers use (Redis, the database): runs once no request is running any more. */
  readonly close: () => Promise<void>;
}

export interface RunServiceOptions {
  /**
   * How long a stop waits for running requests to be answered before it cuts their connections
   * (then `close` runs and the process exits with 1). Default 10 s: below Kubernetes' 30 s grace period.
   */
  readonly shutdownTimeoutMs?: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export async function runService(
  name: string,
  start: () => Promise<Started>,
  options: RunServiceOptions = {},
): Promise<void> {
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0)
    throw new RangeError('runService: shutdownTimeoutMs must be a non-negative integer of milliseconds');
  let started: Started;
  let stopping = false;
  // Responses not finished yet: a stop waits for them (a delivery already recorded as seen must
  // still be handled, a row already inserted must still be completed or removed).
  const running = new Set<ServerResponse>();
  try {
    started = await start();
    const { server } = started;
    server.on('request', (_req, res: ServerResponse) => {
      running.add(res);
      if (stopping && !res.headersSent) res.setHeader('connection', 'close');
      res.once('close', () => {
        running.delete(res);
        // server.close() closes the connections idle at that moment only: a keep-alive connection
        // whose response ends later would hold the stop open until its keep-alive timeout.
        if (stopping) setImmediate(() => server.closeIdleConnections());
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(started.port, started.host, () => resolve());
    });
  } catch (error) {
    // Start-up errors of the packages name keys and options, never values: safe to print.
    process.stderr.write(`${name}: refused to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const address = started.server.address();
  const url = `http://${started.host}:${typeof address === 'object' && address ? address.port : started.port}`;
  process.stdout.write(`${name}: listening on ${url}\n`);
  process.send?.({ ready: name, url });

  const stop = (): void => {
    if (stopping) {
      // A second signal: the operator does not want to wait.
      process.stderr.write(`${name}: stopped at once (second signal), ${running.size} request(s) cut off\n`);
      process.exit(1);
    }
    stopping = true;
    const { server } = started;
    let cutOff = false;
    // Responses still running close their connection when they end instead of keeping it alive.
    for (const res of running) if (!res.headersSent) res.setHeader('connection', 'close');
    const deadline = setTimeout(() => {
      cutOff = true;
      process.stderr.write(
        `${name}: ${running.size} request(s) still running after ${shutdownTimeoutMs} ms; closing their connections\n`,
      );
      server.closeAllConnections();
    }, shutdownTimeoutMs);
    // Stops accepting connections; the callback runs once every connection is gone, that is once
    // every running request was answered (or cut off at the deadline).
    server.close(() => {
      clearTimeout(deadline);
      void started.close().finally(() => process.exit(cutOff ? 1 : 0));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.once('disconnect', () => {
    if (!stopping) stop();
  });
}
