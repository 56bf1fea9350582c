import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Header the proxy adds so the server can record that the client sent `LIST`. */
export const ORIGINAL_METHOD_HEADER = 'x-rampart-original-method';

const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Vault's API uses the non-standard HTTP method `LIST`, which Node's HTTP parser rejects. This
 * loopback TCP front rewrites each `LIST /path` request line to `GET /path?list=true` (Vault
 * accepts both forms) and forwards every byte else unchanged to the HTTP server at `upstreamPort`.
 * It frames requests by `Content-Length`; after a chunked request it forwards the rest of that
 * connection as is (clients that send chunked bodies do not send LIST on the same connection).
 */
export function createListMethodProxy(upstreamPort: number): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.pipe(client);
    let pending: Buffer = Buffer.alloc(0);
    let bodyRemaining = 0;
    let passthrough = false;
    client.on('data', (chunk: Buffer) => {
      if (passthrough) {
        upstream.write(chunk);
        return;
      }
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (bodyRemaining > 0) {
          const take = Math.min(bodyRemaining, pending.length);
          upstream.write(pending.subarray(0, take));
          pending = pending.subarray(take);
          bodyRemaining -= take;
          if (bodyRemaining > 0) return;
        }
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (pending.length > MAX_HEAD_BYTES) {
            passthrough = true;
            upstream.write(pending);
            pending = Buffer.alloc(0);
          }
          return;
        }
        const head = pending.subarray(0, end + 4).toString('latin1');
        pending = pending.subarray(end + 4);
        upstream.write(Buffer.from(rewriteHead(head), 'latin1'));
        const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        bodyRemaining = lengthMatch ? Number(lengthMatch[1]) : 0;
        if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
          passthrough = true;
          upstream.write(pending);
          pending = Buffer.alloc(0);
          return;
        }
        if (pending.length === 0 && bodyRemaining === 0) return;
      }
    });
  });
  return { server, sockets };
}

function rewriteHead(head: string): string {
  if (!head.startsWith('LIST ')) return head;
  const lineEnd = head.indexOf('\r\n');
  const [, target = '/', version = 'HTTP/1.1'] = head.slice(0, lineEnd).split(' ');
  const listed = `${target}${target.includes('?') ? '&' : '?'}list=true`;
  return `GET ${listed} ${version}\r\n${ORIGINAL_METHOD_HEADER}: LIST${head.slice(lineEnd)}`;
}
