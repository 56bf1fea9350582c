import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  NodeCachingMaterialsManager,
  RawAesKeyringNode,
  RawAesWrappingSuiteIdentifier,
} from '@aws-crypto/client-node';
import { startVaultDevServer } from '@rampart/testkit';
import vault from 'node-vault';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { createTransit } from '../src/index.ts';

const SIZES = [
  ['1 KiB', 1024],
  ['16 KiB', 16 * 1024],
  ['1 MiB', 1024 * 1024],
] as const;

export default defineBench('@rampart/transit', async (b) => {
  const server = await startVaultDevServer();
  const client = vault({ endpoint: server.addr, token: server.token });
  await client.write('transit/keys/bench', {});
  const transit = createTransit({ vault: client, key: 'bench', cache: { maxAgeMs: 3_600_000, maxMessages: 2 ** 30 } });
  const context = { tenant: 't1', table: 'users', column: 'ssn', id: '42' };

  // Raw: what a hand-rolled service does with a hardcoded key.
  const rawKey = createSecretKey(randomBytes(32));
  const rawAad = Buffer.from(JSON.stringify(context));
  const rawEncrypt = (plaintext: Buffer): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', rawKey, iv);
    cipher.setAAD(rawAad);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  };
  const rawDecrypt = (sealed: Buffer): Buffer => {
    const decipher = createDecipheriv('aes-256-gcm', rawKey, sealed.subarray(0, 12));
    decipher.setAAD(rawAad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  };

  // AWS Encryption SDK: raw AES keyring, caching CMM, committing suite without signature (its fastest setup).
  const esdk = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
  const keyring = new RawAesKeyringNode({
    keyName: 'bench',
    keyNamespace: 'rampart',
    unencryptedMasterKey: randomBytes(32),
    wrappingSuite: RawAesWrappingSuiteIdentifier.AES256_GCM_IV12_TAG16_NO_PADDING,
  });
  const cmm = new NodeCachingMaterialsManager({
    backingMaterials: keyring,
    cache: getLocalCryptographicMaterialsCache(1000),
    maxAge: 3_600_000,
    maxMessagesEncrypted: 2 ** 32,
  });
  const suiteId = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
  const esdkEncrypt = async (plaintext: Buffer): Promise<Buffer> =>
    (await esdk.encrypt(cmm, plaintext, { encryptionContext: context, suiteId })).result;
  const esdkDecrypt = async (sealed: Buffer): Promise<Buffer> => (await esdk.decrypt(cmm, sealed)).plaintext;

  for (const [label, size] of SIZES) {
    const plaintext = randomBytes(size);
    const ours = await transit.encrypt(plaintext, context);
    const raw = rawEncrypt(plaintext);
    const theirs = await esdkEncrypt(plaintext);
    const bytesPerOp = size >= 1024 * 1024 ? size : undefined;
    const unit = bytesPerOp ? { bytesPerOp } : {};
    await b.compare(`encrypt ${label} vs raw AES-GCM`, {
      ours: () => transit.encrypt(plaintext, context),
      peer: { name: 'createCipheriv (hardcoded key)', fn: () => rawEncrypt(plaintext) },
      ...unit,
      note: size === 1024 ? 'target: ≥ 0.67× raw (≤ 1.5× time)' : size >= 1024 * 1024 ? 'target ≥ 0.85× raw' : '',
    });
    await b.compare(`encrypt ${label} vs AWS ESDK`, {
      ours: () => transit.encrypt(plaintext, context),
      peer: { name: '@aws-crypto/client-node 5 (cached, commit, no sig)', fn: () => esdkEncrypt(plaintext) },
      ...unit,
      note: size === 1024 ? 'target ≥ 30×' : size >= 1024 * 1024 ? 'target ≥ 8×' : '',
    });
    await b.compare(`decrypt ${label} vs raw AES-GCM`, {
      ours: () => transit.decrypt(ours, context),
      peer: { name: 'createDecipheriv (hardcoded key)', fn: () => rawDecrypt(raw) },
      ...unit,
      note: size === 1024 ? 'target: ≥ 0.5× raw (≤ 2× time)' : size >= 1024 * 1024 ? 'target ≥ 0.85× raw' : '',
    });
    await b.compare(`decrypt ${label} vs AWS ESDK`, {
      ours: () => transit.decrypt(ours, context),
      peer: { name: '@aws-crypto/client-node 5 (cached, commit, no sig)', fn: () => esdkDecrypt(theirs) },
      ...unit,
      note: size === 1024 ? 'target ≥ 35×' : '',
    });
    if (size === 1024) {
      b.record({
        operation: 'overhead bytes per 1 KiB record',
        ours: ours.length - size,
        peer: theirs.length - size,
        peerName: '@aws-crypto/client-node 5 (commit, no sig)',
        unit: 'bytes',
        higherIsBetter: false,
        note: 'target ≤ 128 (key name "bench", default mount)',
      });
    }
  }

  // Vault calls: 1,000 concurrent cold encrypts, then 1,000 cold unwraps of distinct DEKs.
  await client.write('transit/keys/cold', {});
  server.clearRequests();
  const cold = createTransit({ vault: client, key: 'cold', cache: { maxAgeMs: 60_000 } });
  await Promise.all(Array.from({ length: 1000 }, (_, i) => cold.encrypt(Buffer.from('x'), { ...context, id: i })));
  b.record({
    operation: 'Vault calls for 1,000 concurrent cold encrypts',
    ours: server.requests().filter((r) => r.path.startsWith('transit/datakey/')).length,
    unit: 'calls',
    higherIsBetter: false,
    note: 'target 1 (single-flight); ESDK #421: 1 per message when concurrent',
  });
  const perRecord = createTransit({ vault: client, key: 'cold', cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  const records = await Promise.all(
    Array.from({ length: 1000 }, (_, i) => perRecord.encrypt(Buffer.from('x'), { ...context, id: i })),
  );
  server.clearRequests();
  const reader = createTransit({ vault: client, key: 'cold', cache: { maxAgeMs: 60_000 } });
  await Promise.all(records.map((envelope, i) => reader.decrypt(envelope, { ...context, id: i })));
  b.record({
    operation: 'Vault calls for 1,000 cold unwraps (distinct DEKs)',
    ours: server.requests().filter((r) => r.path.startsWith('transit/decrypt/')).length,
    unit: 'calls',
    higherIsBetter: false,
    note: 'target ≤ ⌈N/256⌉ = 4 (batch_input)',
  });
  await server.stop();
});
