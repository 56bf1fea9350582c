import { createCipheriv } from 'node:crypto';
import type vault from 'node-vault';
import { encodeContext } from '../src/context.ts';
import { DataKey } from '../src/data-key.ts';
import { ALG, encodeFixedHeader, encodeStreamTrailer, encodeWrapped, fromVaultCiphertext } from '../src/envelope.ts';
import type { EncryptionContext } from '../src/index.ts';

/**
 * Writes a stream in the old format 1, which the package no longer writes but must still read:
 * a DEK from the dev server's `datakey/plaintext`, and frames whose AAD is the whole stream header
 * (wrapped DEK included) ‖ index ‖ last-frame flag ‖ context, as the code before format 2 did.
 */
export async function encryptStreamV1(
  client: ReturnType<typeof vault>,
  key: string,
  context: EncryptionContext,
  plaintext: Buffer,
  frameSize: number,
): Promise<Buffer> {
  const issued = (await client.write(`transit/datakey/plaintext/${key}`, {})) as {
    data: { plaintext: string; ciphertext: string };
  };
  const { keyVersion, wrappedDek } = fromVaultCiphertext(issued.data.ciphertext);
  const dataKey = new DataKey(Buffer.from(issued.data.plaintext, 'base64'));
  const salt = Buffer.alloc(16, 0x5a);
  const header = Buffer.concat([
    encodeFixedHeader(ALG.stream, 'transit', key, 1),
    encodeWrapped(keyVersion, wrappedDek),
    encodeStreamTrailer(dataKey.commitment, salt, frameSize),
  ]);
  const streamKey = dataKey.streamKey(salt);
  const contextBytes = encodeContext(context);
  const frames: Buffer[] = [header];
  const count = Math.max(1, Math.ceil(plaintext.length / frameSize));
  for (let index = 0; index < count; index++) {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(index, 8);
    const position = Buffer.alloc(5);
    position.writeUInt32BE(index, 0);
    position[4] = index === count - 1 ? 1 : 0;
    const cipher = createCipheriv('aes-256-gcm', streamKey, nonce);
    cipher.setAAD(Buffer.concat([header, position, contextBytes]));
    frames.push(cipher.update(plaintext.subarray(index * frameSize, (index + 1) * frameSize)), cipher.final());
    frames.push(cipher.getAuthTag());
  }
  return Buffer.concat(frames);
}
