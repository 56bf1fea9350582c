// `./run demo`: the main job. Until the example services land (examples issue), it runs the
// test-kit's smoke demo: real Redis, a 3-master Redis Cluster and headless Chromium on loopback,
// each step printed in plain words. `--once` exits after the walkthrough; otherwise the servers
// keep running until Ctrl-C.
import { Cluster, Redis } from 'ioredis';
import { launchChromium, startRedis, startRedisCluster } from '../packages/testkit/src/index.ts';

const once = process.argv.includes('--once');
const say = (text: string): void => {
  process.stdout.write(`${text}\n`);
};
const tty = process.stdout.isTTY === true;
const step = async <T>(title: string, action: () => Promise<T>): Promise<T> => {
  // On a terminal the pending line shows progress while a server starts; in logs, one line a step.
  if (tty) process.stdout.write(`… ${title}`);
  const started = Date.now();
  const result = await action();
  process.stdout.write(`${tty ? '\r' : ''}✓ ${title} (${Date.now() - started} ms)\n`);
  return result;
};

// The test-kit refuses production; the demo is a local, throwaway stack.
process.env.NODE_ENV ??= 'development';

say('rampart demo: the test-kit smoke demo (the example services arrive with the examples issue)\n');
const redis = await step('start Redis (REDIS_URL if set, else a private redis-server)', () => startRedis());
const cluster = await step('start a 3-master Redis Cluster on free loopback ports', () => startRedisCluster());
const chromium = await step('launch headless Chromium (Debian package, no download)', () => launchChromium());

const single = new Redis(redis.url, { lazyConnect: true });
await single.connect();
await step('write and read a key on the single node', async () => {
  await single.set(`${redis.keyPrefix}demo`, 'hello', 'PX', 60_000);
  if ((await single.get(`${redis.keyPrefix}demo`)) !== 'hello') throw new Error('read back a different value');
});
const clustered = new Cluster([...cluster.startupNodes], { lazyConnect: true });
await clustered.connect();
await step('spread 30 keys over the cluster and read them back', async () => {
  for (let i = 0; i < 30; i++) await clustered.set(`demo:${i}`, String(i));
  for (let i = 0; i < 30; i++) if ((await clustered.get(`demo:${i}`)) !== String(i)) throw new Error(`key ${i}`);
});
await step('render a page in Chromium and run its script', async () => {
  const page = await chromium.newPage();
  await page.setContent('<p id="o"></p><script>document.getElementById("o").textContent = "rendered"</script>');
  if ((await page.textContent('#o')) !== 'rendered') throw new Error('the script did not run');
});

const shutdown = async (): Promise<void> => {
  single.disconnect();
  clustered.disconnect();
  await chromium.stop();
  await cluster.stop();
  await redis.stop();
};

say(`\nRedis:   ${redis.url}`);
say(`Cluster: ${cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(', ')}`);
if (once) {
  await shutdown();
  say('\nwalkthrough complete; everything stopped (--once).');
} else {
  say('\nwalkthrough complete; the servers keep running. Press Ctrl-C to stop them.');
  process.once('SIGINT', () => {
    void shutdown().then(() => process.exit(0));
  });
  setInterval(() => {}, 60_000);
}
