import { vi } from 'vitest';

/** Runs `act` with stderr captured (not written): what was written, a chunk an entry. For tests. */
export async function captureStderr(act: () => Promise<void>): Promise<string[]> {
  const written: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return written;
}
