import { createServer } from 'node:net';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { getFreePort } from '../src/index.ts';

/** The peer: what a hand-rolled test setup does to find a port. */
async function listenOnZero(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export default defineBench('@rampart/testkit', async (b) => {
  await b.compare('getFreePort()', {
    ours: () => getFreePort(),
    peer: { name: 'net listen(0) by hand', fn: () => listenOnZero() },
    note: 'sanity row: both do the same syscalls',
  });
});
