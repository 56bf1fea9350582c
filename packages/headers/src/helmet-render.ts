import helmet, { type HelmetOptions } from 'helmet';
import { HeadersError } from './errors.ts';

/** What helmet did to a response: headers it set (in order) and headers it removed. */
export interface HelmetRendering {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly removed: readonly string[];
}

/**
 * Runs helmet's middleware once against a recording response and returns what it set. helmet
 * validates its options and renders every value; we reuse those values on each request instead
 * of re-running the middleware chain, which is where the per-request cost of helmet goes.
 */
export function renderWithHelmet(options: HelmetOptions): HelmetRendering {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.push([name, String(value)]);
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let failure: unknown;
  try {
    const middleware = helmet(options) as unknown as (req: object, res: object, next: (err?: unknown) => void) => void;
    middleware({}, recorder, (err) => {
      failure = err;
    });
  } catch (error) {
    failure = error;
  }
  if (failure !== undefined) {
    // helmet's own messages echo the offending value; keep it out of ours.
    throw new HeadersError(
      'ERR_HEADERS_INVALID_OPTION',
      'helmet rejected the header options derived from this preset; check the preset options against the README',
    );
  }
  return { set, removed };
}
