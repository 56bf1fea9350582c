// A client in a process of its own that streams request bodies, for the services' tests of a
// refused body: the lingering close is only seen when the client's writes race the server's close.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * POSTs `size` bytes (with `headers`) to `url` `attempts` times, one after the other, from a child process (the
 * client of a real deployment runs elsewhere: in this process the server's close never races the
 * client's writes), each body a fetch ReadableStream (sent chunked). Resolves to one
 * `<status> <connection header> <body>` per attempt, or the error code of an attempt that failed.
 */
export async function streamFromAnotherProcess(
  url: string,
  options: { readonly headers: Readonly<Record<string, string>>; readonly size: number; readonly attempts: number },
): Promise<string[]> {
  const client = `
    const [url, headers, size, attempts] = process.argv.slice(1);
    const outcomes = [];
    for (let attempt = 0; attempt < Number(attempts); attempt++) {
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (sent >= Number(size)) return controller.close();
          const chunk = new Uint8Array(Math.min(64 * 1024, Number(size) - sent)).fill(0x78);
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: JSON.parse(headers),
          body,
          duplex: 'half',
        });
        outcomes.push(response.status + ' ' + response.headers.get('connection') + ' ' + (await response.text()));
      } catch (error) {
        outcomes.push(String(error?.cause?.code ?? error?.name));
      }
    }
    process.stdout.write(JSON.stringify(outcomes));
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      client,
      url,
      JSON.stringify(options.headers),
      String(options.size),
      String(options.attempts),
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(stdout) as string[];
}
