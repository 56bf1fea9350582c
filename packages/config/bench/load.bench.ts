import { randomBytes } from 'node:crypto';
import { bool, cleanEnv, port as envalidPort, url as envalidUrl, num, str } from 'envalid';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { assessSecret, boolean, loadConfigSync, number, port, secret, string, url } from '../src/index.ts';

// A typical service: a dozen keys, two of them secrets, validated at start-up.
const env: Record<string, string> = {
  NODE_ENV: 'production',
  PORT: '8080',
  HOST: 'api.internal',
  ISSUER_URL: 'https://issuer.example/',
  DATABASE_URL: 'postgres://db.internal:5432/app',
  REDIS_URL: 'redis://cache.internal:6379',
  POOL_SIZE: '20',
  TRUST_PROXY: 'true',
  LOG_LEVEL: 'info',
  REGION: 'eu-west-1',
  JWT_KEY: randomBytes(32).toString('base64url'),
  DB_PASSWORD: randomBytes(18).toString('base64'),
};

const ours = {
  PORT: port(),
  HOST: string(),
  ISSUER_URL: url({ protocols: ['https:'] }),
  DATABASE_URL: url(),
  REDIS_URL: url(),
  POOL_SIZE: number({ integer: true, min: 1 }),
  TRUST_PROXY: boolean(),
  LOG_LEVEL: string(),
  REGION: string(),
  JWT_KEY: secret({ kind: 'jwt-hs256', sources: ['env'] }),
  DB_PASSWORD: secret({ kind: 'password', sources: ['env'] }),
};
const peer = {
  PORT: envalidPort(),
  HOST: str(),
  ISSUER_URL: envalidUrl(),
  DATABASE_URL: envalidUrl(),
  REDIS_URL: envalidUrl(),
  POOL_SIZE: num(),
  TRUST_PROXY: bool(),
  LOG_LEVEL: str(),
  REGION: str(),
  JWT_KEY: str(),
  DB_PASSWORD: str(),
};

export default defineBench('@rampart/config', async (b) => {
  await b.compare('load 11 keys (2 secrets) at start-up', {
    ours: () => loadConfigSync(ours, { env }),
    peer: { name: 'envalid cleanEnv (no secret checks)', fn: () => cleanEnv(env, peer) },
    note: 'ours also runs the weak-secret rules on both secrets; start-up cost, paid once',
  });
  const key = randomBytes(32).toString('base64url');
  await b.compare('assessSecret (32-byte key)', {
    ours: () => assessSecret(key, { kind: 'jwt-hs256' }),
    note: 'all weak-secret rules incl. the demo list',
  });
});
