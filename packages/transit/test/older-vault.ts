import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import vault from 'node-vault';
import type { EncryptionContext, Transit, TransitOptions } from '../src/index.ts';
import type { Fixture } from './fixture.ts';

/** What a {@link RewritingProxy}'s `rewrite` gets for each answer and may return instead. */
export type Rewrite = (
  path: string,
  status: number,
  body: Buffer,
) => { status: number; body: unknown } | undefined | Promise<{ status: number; body: unknown } | undefined>;

export interface RewritingProxy {
  transit(key: string, options?: Partial<TransitOptions>): Transit;
  close(): Promise<void>;
}

/**
 * Older Vault (before vault#13111, about 1.10) failed the whole request when one item did not
 * authenticate (a plain Go error: 500 and `{"errors":[...]}`, no batch_results). As a `rewrite`,
 * this answers so every decrypt or rewrap batch in which some item failed; a batch whose items all
 * succeed passes through.
 */
export const wholeBatchFailure: Rewrite = (path, _status, body) => {
  if (!/\/(decrypt|rewrap)\//.test(path)) return undefined;
  const results = (JSON.parse(body.toString('utf8')) as { data?: { batch_results?: { error?: string }[] } }).data
    ?.batch_results;
  if (!results?.some((result) => result.error)) return undefined;
  return { status: 500, body: { errors: ['1 error occurred:\n\t* cipher: message authentication failed\n\n'] } };
};

/** `envelope` with one bit of its wrapped DEK flipped: Vault no longer authenticates it. */
export function tamper(envelope: Buffer, key: string): Buffer {
  const tampered = Buffer.from(envelope);
  const at = 3 + 1 + 1 + key.length + 1 + 20;
  tampered[at] = (tampered[at] ?? 0) ^ 1;
  return tampered;
}

/** `sizes` largest first (halves sent at once reach Vault in any order). */
export function sorted(sizes: (number | undefined)[]): (number | undefined)[] {
  return [...sizes].sort((a, b) => (b ?? 0) - (a ?? 0));
}

/** Helpers over the file's fixture (`fixture()` is read at each call: it is set in `beforeAll`). */
export function olderVault(
  fixture: () => Fixture,
  ctx: EncryptionContext,
): {
  manyRecords(key: string, n: number, bad: readonly number[], options?: Partial<TransitOptions>): Promise<Buffer[]>;
  batchSizes(prefix: string): (number | undefined)[];
  startRewritingProxy(rewrite: Rewrite): Promise<RewritingProxy>;
} {
  return {
    /**
     * `n` records under `key` ("record <i>", context `ctx`), each with its own data key (so the
     * unwraps are not shared); those at `bad` tampered. `options` for the encrypting Transit.
     */
    async manyRecords(key, n, bad, options = {}) {
      const transit = fixture().transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 }, ...options });
      const records: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const record = await transit.encrypt(Buffer.from(`record ${i}`), ctx);
        records.push(bad.includes(i) ? tamper(record, key) : record);
      }
      return records;
    },

    /** `batch_input` sizes of the requests to `prefix` the dev server answered, in order. */
    batchSizes(prefix) {
      return fixture()
        .server.requests()
        .filter((r) => r.path.startsWith(prefix))
        .map((r) => r.batchSize);
    },

    /**
     * A loopback proxy in front of the dev server that makes it answer like another Vault version:
     * `rewrite` gets each answer (request path, status, body) and returns the status and body to send
     * instead, or `undefined` to pass it through (or a promise of either: the answer waits for it).
     */
    async startRewritingProxy(rewrite) {
      const fx = fixture();
      const upstream = new URL(fx.server.addr);
      const proxy = createServer((req, res) => {
        const forward = request(
          { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
          (answer) => {
            const chunks: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => chunks.push(chunk));
            answer.on('end', async () => {
              const status = answer.statusCode ?? 502;
              const body = Buffer.concat(chunks);
              const changed = await rewrite(req.url ?? '', status, body);
              const sent =
                changed === undefined || Buffer.isBuffer(changed.body)
                  ? ((changed?.body as Buffer | undefined) ?? body)
                  : Buffer.from(JSON.stringify(changed.body));
              const headers: IncomingHttpHeaders = { ...answer.headers, 'content-length': String(sent.length) };
              delete headers['transfer-encoding'];
              res.writeHead(changed?.status ?? status, headers);
              res.end(sent);
            });
          },
        );
        forward.on('error', () => res.destroy());
        req.pipe(forward);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const client = vault({
        endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        token: fx.server.token,
      });
      return {
        transit: (key, options = {}) => fx.transit(key, { vault: client, ...options }),
        async close() {
          proxy.closeAllConnections();
          await new Promise((resolve) => proxy.close(resolve));
        },
      };
    },
  };
}
