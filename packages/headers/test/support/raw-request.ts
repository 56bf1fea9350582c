/**
 * One raw HTTP/1.1 request over a socket of 127.0.0.1, for what no fetch client sends: a request
 * target exactly as written (an absolute-form `https://…` one too, or a malformed path).
 */
import { connect } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import type { HttpResult } from './apps.ts';

/**
 * Sends `line` (the method and request target as written), then `headers` and `body`, and reads the
 * response until the server closes the connection. Over TLS when `tls` is given.
 */
export function rawRequest(
  port: number | string,
  line: string,
  headers: Record<string, string>,
  body = '',
  tls?: ConnectionOptions,
): Promise<HttpResult> {
  const head = Object.entries({ ...headers, connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    const write = (): void => {
      socket.end(`${line} HTTP/1.1\r\n${head}\r\n${body}`);
    };
    const socket =
      tls === undefined
        ? connect(Number(port), '127.0.0.1', write)
        : connectTls({ ...tls, port: Number(port), host: '127.0.0.1' }, write);
    let raw = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy(new Error('no complete response')));
    socket.on('data', (chunk: string) => {
      raw += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(':');
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}
