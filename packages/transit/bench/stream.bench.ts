import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startVaultDevServer } from '@rampart/testkit';
import vault from 'node-vault';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { createTransit } from '../src/index.ts';

const MiB = 1024 * 1024;

export default defineBench('@rampart/transit', async (b) => {
  const server = await startVaultDevServer();
  const client = vault({ endpoint: server.addr, token: server.token });
  await client.write('transit/keys/stream', {});
  const transit = createTransit({ vault: client, key: 'stream', cache: { maxAgeMs: 3_600_000 } });
  const total = (b.quick ? 128 : 1024) * MiB;
  const chunk = Buffer.alloc(64 * 1024, 7);
  const run = async (): Promise<{ growthMiB: number; mbPerS: number }> => {
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) this.push(null);
        else {
          produced += chunk.length;
          this.push(chunk);
        }
      },
    });
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const started = performance.now();
    let seen = 0;
    await pipeline(
      source,
      transit.encryptStream({ tenant: 't1', object: 'big.bin' }),
      new Writable({
        write(data: Buffer, _enc, cb) {
          seen += data.length;
          if (seen % (16 * MiB) < data.length) peak = Math.max(peak, process.memoryUsage().rss);
          cb();
        },
      }),
    );
    peak = Math.max(peak, process.memoryUsage().rss);
    return { growthMiB: (peak - before) / MiB, mbPerS: total / 1e6 / ((performance.now() - started) / 1000) };
  };
  await run(); // warm-up: JIT, buffers
  const measured = await run();
  b.record({
    operation: `encryptStream ${total / MiB} MiB: RSS growth`,
    ours: measured.growthMiB,
    unit: 'MiB',
    higherIsBetter: false,
    note: `target ≤ 4 MiB; ${measured.mbPerS.toFixed(0)} MB/s; ESDK grows with the file (#920)`,
  });
  await server.stop();
});
