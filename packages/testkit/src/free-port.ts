import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on 127.0.0.1. The port is released before it is returned,
 * so a caller binds it right away; servers started by this package retry on a clash.
 *
 * @example
 * ```ts
 * import { getFreePort } from '@rampart/testkit';
 * const port = await getFreePort();
 * ```
 */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on `port` at `host` and it can be bound now. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A free port `p` such that `p + offset` is free too (Redis Cluster's bus listens on port + 10000).
 */
export async function getFreePortPair(offset: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (65_535 - offset - 20_000));
    if ((await isPortFree(port, host)) && (await isPortFree(port + offset, host))) return port;
  }
  throw new Error(`no free port pair (port, port + ${offset}) found on ${host}`);
}
