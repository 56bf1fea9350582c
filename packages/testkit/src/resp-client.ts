import { connect } from 'node:net';

/** A reply decoded from RESP2. */
export type RespValue = string | number | null | RespValue[] | Error;

function encode(args: readonly (string | number)[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const text = String(arg);
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  }
  return out;
}

/** Parses one RESP2 value from `buf` at `offset`; `undefined` when more bytes are needed. */
function parse(buf: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new Error(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, next: after };
      if (buf.length < after + length + 2) return undefined;
      return { value: buf.toString('utf8', after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, next: after };
      const items: RespValue[] = [];
      let cursor = after;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, cursor);
        if (item === undefined) return undefined;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Sends one command to a Redis server and returns its reply. Used for control-plane commands
 * (PING, CLUSTER ..., SHUTDOWN) so the test-kit itself needs no Redis client library.
 */
export async function sendCommand(
  port: number,
  args: readonly (string | number)[],
  options: { host?: string; timeoutMs?: number } = {},
): Promise<RespValue> {
  const [reply] = await sendCommands(port, [args], options);
  return reply ?? null;
}

/**
 * Sends several commands on one connection (pipelined, e.g. AUTH and SELECT before the command
 * that needs them) and returns every reply, in order. Error replies are returned, not thrown.
 */
export async function sendCommands(
  port: number,
  commands: readonly (readonly (string | number)[])[],
  { host = '127.0.0.1', timeoutMs = 2_000 }: { host?: string; timeoutMs?: number } = {},
): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = Buffer.alloc(0);
    const replies: RespValue[] = [];
    // The command's name only, never its arguments (AUTH's are secret).
    const what = String(commands.at(-1)?.[0]);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${host}:${port} did not answer ${what} within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (error: Error | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`redis ${host}:${port} closed the connection`)));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (;;) {
          const parsed = parse(buffer, 0);
          if (parsed === undefined) return;
          replies.push(parsed.value);
          buffer = buffer.subarray(parsed.next);
          if (replies.length === commands.length) return finish(undefined);
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.write(commands.map(encode).join(''));
  });
}
