import type { EncryptionContext } from './context.ts';
import { type EnvelopeHead, FORMAT_VERSION, isStream, parseHead, RewrapCopy } from './envelope.ts';
import { TransitError } from './errors.ts';
import type { TransitCore } from './transit-core.ts';
import type { TransitKeyInfo } from './vault-transit.ts';

/** What {@link Transit.rotationReport} returns. */
export interface RotationReport {
  /** Per transit key seen: its latest version and `min_decryption_version`. */
  readonly keys: readonly {
    readonly mount: string;
    readonly key: string;
    readonly latestVersion: number;
    readonly minDecryptionVersion: number;
  }[];
  readonly total: number;
  /** Indexes of envelopes wrapped under a version below the target: rewrap them. */
  readonly stale: readonly number[];
  /** Indexes Vault already refuses (below `min_decryption_version`): lower it, rewrap, raise it again. */
  readonly undecryptable: readonly number[];
  /**
   * Indexes that are not envelopes, including those naming a mount or key that `createTransit`
   * options would refuse (such names never reach Vault).
   */
  readonly malformed: readonly number[];
  /**
   * Indexes of envelopes under a mount/key this instance does not accept (neither its key nor in
   * `acceptKeys`): not looked up in Vault, and not counted in `versions`. Empty when every envelope
   * is this instance's. Report them with an instance that accepts their key.
   */
  readonly notAccepted: readonly number[];
  /**
   * Indexes of envelopes under an accepted key that Vault does not have (on that mount/namespace):
   * they cannot be decrypted or rewrapped. Counted in `versions`, not in `stale`.
   */
  readonly keyNotFound: readonly number[];
  /**
   * Indexes of streams in the old stream format 1. Their frames authenticate the whole header,
   * wrapped DEK included, so `rewrap` refuses them: re-encrypt them (decryptStream → encryptStream,
   * which writes format 2) before raising `min_decryption_version`. They are also listed in
   * `stale` / `undecryptable` when their key version says so. Format 2 streams are rewrapped like
   * records and are not listed here.
   */
  readonly streams: readonly number[];
  /** Count per key version of the envelopes this instance accepts, e.g. `{ 1: 10, 3: 990 }`. */
  readonly versions: Readonly<Record<number, number>>;
}

/** One envelope to rewrap; tenant-bound envelopes need their context. */
export interface RewrapItem {
  readonly envelope: Uint8Array;
  readonly context?: EncryptionContext;
}

/** One result of {@link Transit.rewrap}: the new envelope, or why this one failed. */
export type RewrapResult =
  | { readonly ok: true; readonly envelope: Buffer; readonly fromVersion: number; readonly toVersion: number }
  | { readonly ok: false; readonly error: TransitError };

export async function rotationReport(
  core: TransitCore,
  envelopes: Iterable<Uint8Array>,
  options: { readonly minVersion?: number },
): Promise<RotationReport> {
  if (
    typeof envelopes === 'string' ||
    typeof (envelopes as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function'
  ) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_INPUT',
      'rotationReport(envelopes): envelopes must be an array (or other iterable) of envelope bytes, e.g. rows.map((r) => r.ssn).',
    );
  }
  // `keyVersion < NaN` (or < 0) is false for every envelope: an unchecked target would
  // report nothing stale and a rotation would look finished.
  const minVersion = options?.minVersion;
  if (minVersion !== undefined && !(Number.isSafeInteger(minVersion) && minVersion >= 1)) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_INPUT',
      "rotationReport(envelopes, { minVersion }): minVersion must be a key version, a whole number ≥ 1 (e.g. the key's latest_version), or left out for the key's latest.",
    );
  }
  const heads: (EnvelopeHead | undefined)[] = [];
  const malformed: number[] = [];
  const notAccepted: number[] = [];
  for (const envelope of envelopes) {
    const index = heads.length;
    // parseHead refuses what decrypt and rewrap refuse: a name options would refuse (it must never
    // reach a Vault path, `../../sys/mounts`) is malformed, a well-formed name that is not ours is
    // not accepted, and neither is looked up.
    const head = readHead(core, envelope);
    if (head === 'malformed') malformed.push(index);
    else if (head === 'not-accepted') notAccepted.push(index);
    heads.push(typeof head === 'string' ? undefined : head);
  }
  const keyIds = new Map<string, { mount: string; key: string }>();
  for (const head of heads)
    if (head) keyIds.set(`${head.mount}\u0000${head.key}`, { mount: head.mount, key: head.key });
  const found = await Promise.all([...keyIds.values()].map(({ mount, key }) => readKeyIfExists(core, mount, key)));
  const keys = found.filter((k) => k !== undefined);
  const byId = new Map(keys.map((k) => [`${k.mount}\u0000${k.key}`, k]));
  const stale: number[] = [];
  const undecryptable: number[] = [];
  const keyNotFound: number[] = [];
  const streams: number[] = [];
  const versions: Record<number, number> = {};
  heads.forEach((head, index) => {
    if (!head) return;
    if (isOldStream(head)) streams.push(index);
    const key = byId.get(`${head.mount}\u0000${head.key}`);
    versions[head.keyVersion] = (versions[head.keyVersion] ?? 0) + 1;
    if (!key) {
      keyNotFound.push(index);
      return;
    }
    if (head.keyVersion < (minVersion ?? key.latestVersion)) stale.push(index);
    if (head.keyVersion < key.minDecryptionVersion) undecryptable.push(index);
  });
  return {
    keys: keys.map(({ mount, key, latestVersion, minDecryptionVersion }) => ({
      mount,
      key,
      latestVersion,
      minDecryptionVersion,
    })),
    total: heads.length,
    stale,
    undecryptable,
    malformed,
    notAccepted,
    keyNotFound,
    streams,
    versions,
  };
}

function readHead(core: TransitCore, envelope: unknown): EnvelopeHead | 'malformed' | 'not-accepted' {
  try {
    return parseHead(envelope as Uint8Array, core.accepts);
  } catch (error) {
    return error instanceof TransitError && error.code === 'ERR_TRANSIT_KEY_NOT_ACCEPTED'
      ? 'not-accepted'
      : 'malformed';
  }
}

/** The key's versions, or undefined when Vault has no such key (its envelopes are listed instead). */
async function readKeyIfExists(
  core: TransitCore,
  mount: string,
  key: string,
): Promise<({ mount: string; key: string } & TransitKeyInfo) | undefined> {
  try {
    return { mount, key, ...(await core.vault.readKey(mount, key)) };
  } catch (error) {
    if (error instanceof TransitError && error.code === 'ERR_TRANSIT_KEY_NOT_FOUND') return undefined;
    throw error;
  }
}

export async function rewrapEnvelopes(core: TransitCore, items: readonly RewrapItem[]): Promise<RewrapResult[]> {
  if (!Array.isArray(items)) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_INPUT',
      'rewrap(items): items must be an array of { envelope, context? }, e.g. rows.map((r) => ({ envelope: r.ssn })).',
    );
  }
  const results: RewrapResult[] = new Array(items.length);
  const groups = new Map<string, { index: number; head: EnvelopeHead; transitContext: string | undefined }[]>();
  // Read at call time: the caller may reuse its buffers while Vault answers, and the result is
  // built from the bytes whose wrapped DEK was sent. The copy is the result (patched when Vault
  // answers): one envelope-sized buffer each, as when the result was built from the caller's bytes.
  const copies: (RewrapCopy | undefined)[] = new Array(items.length);
  items.forEach((item, index) => {
    try {
      const envelope = item?.envelope;
      const parsed = parseHead(envelope, core.accepts);
      if (isOldStream(parsed)) {
        // Format 1 frames authenticate the wrapped DEK: replacing it would break every frame.
        throw new TransitError(
          'ERR_TRANSIT_STREAM',
          'rewrap cannot update a stream envelope of format 1 in place: re-encrypt it with decryptStream() and encryptStream() (which writes format 2) instead.',
        );
      }
      const transitContext = core.transitContext(parsed, item?.context);
      const copy = new RewrapCopy(envelope, parsed);
      copies[index] = copy;
      const head = copy.head;
      // Vault rewraps under the key that wrapped the DEK (an `acceptKeys` envelope stays under its
      // key), and wants context in all items of a batch or in none.
      const group = `${head.mount}\u0000${head.key}\u0000${transitContext === undefined ? 0 : 1}`;
      const list = groups.get(group) ?? [];
      list.push({ index, head, transitContext });
      groups.set(group, list);
    } catch (error) {
      results[index] = { ok: false, error: asTransitError(error) };
    }
  });
  const batches: { index: number; head: EnvelopeHead; transitContext: string | undefined }[][] = [];
  for (const list of groups.values()) {
    for (let start = 0; start < list.length; start += core.batchSize)
      batches.push(list.slice(start, start + core.batchSize));
  }
  await Promise.all(
    batches.map(async (batch) => {
      try {
        // Batches are non-empty slices.
        const first = batch[0] as (typeof batch)[number];
        const rewrapped = await core.vault.rewrapBatch(
          first.head.mount,
          first.head.key,
          batch.map((b) => ({
            keyVersion: b.head.keyVersion,
            wrappedDek: b.head.wrappedDek,
            transitContext: b.transitContext,
          })),
        );
        rewrapped.forEach((result, i) => {
          const item = batch[i];
          if (!item) return;
          const copy = copies[item.index];
          copies[item.index] = undefined;
          if (result instanceof TransitError || !copy) {
            results[item.index] = { ok: false, error: asTransitError(result) };
            return;
          }
          results[item.index] = {
            ok: true,
            envelope: copy.replace(result.keyVersion, result.wrappedDek),
            fromVersion: item.head.keyVersion,
            toVersion: result.keyVersion,
          };
        });
      } catch (error) {
        for (const item of batch) results[item.index] = { ok: false, error: asTransitError(error) };
      }
    }),
  );
  return results;
}

/** A stream of format 1: its frames authenticate the wrapped DEK, so it cannot be rewrapped. */
function isOldStream(head: EnvelopeHead): boolean {
  return isStream(head.alg) && head.version === FORMAT_VERSION;
}

function asTransitError(error: unknown): TransitError {
  return error instanceof TransitError
    ? error
    : new TransitError('ERR_TRANSIT_MALFORMED_ENVELOPE', 'rewrap: this item could not be read as an envelope.');
}
