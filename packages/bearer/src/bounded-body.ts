/**
 * Reads a response body as UTF-8 text, refusing more than `maxBytes` (by `Content-Length` up front,
 * then while streaming, so a chunked answer cannot exhaust memory either). When `signal` aborts,
 * before or during the read, the body is cancelled and the read fails: a custom `fetch` that
 * ignores its own signal would otherwise leave the body (and its connection) open.
 */
export async function readBoundedText(response: Response, maxBytes: number, signal?: AbortSignal): Promise<string> {
  if (signal?.aborted) {
    await response.body?.cancel(signal.reason).catch(() => {});
    throw new Error('response body read aborted', { cause: signal.reason });
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new Error('response body larger than the configured limit');
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  // A pending read() settles (done) once the reader is cancelled.
  const onAbort = (): void => {
    reader.cancel(signal?.reason).catch(() => {});
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (signal?.aborted) throw new Error('response body read aborted', { cause: signal.reason });
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new Error('response body larger than the configured limit');
      }
      chunks.push(value);
    }
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
