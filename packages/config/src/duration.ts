const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses `500ms`, `30s`, `5m`, `1h30m`, `2d`, `1.5h` or an ISO 8601 duration (`PT1H30M`, `P1D`)
 * into milliseconds. Returns `undefined` for anything else; a bare number is refused because its
 * unit would be a guess.
 *
 * @example
 * ```ts
 * import { parseDuration } from '@rampart/config';
 * parseDuration('1h30m'); // 5_400_000
 * ```
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value.length === 0 || value.length > 64) return undefined;
  const iso =
    /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
      value,
    );
  if (iso) {
    const [, w, d, h, m, s] = iso;
    if ([w, d, h, m, s].every((part) => part === undefined) || /T$/i.test(value)) return undefined;
    const total =
      Number(w ?? 0) * UNIT_MS.w! +
      Number(d ?? 0) * UNIT_MS.d! +
      Number(h ?? 0) * UNIT_MS.h! +
      Number(m ?? 0) * UNIT_MS.m! +
      Number(s ?? 0) * UNIT_MS.s!;
    return Number.isFinite(total) ? Math.round(total) : undefined;
  }
  if (!/^(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$/.test(value)) return undefined;
  let total = 0;
  for (const match of value.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/g)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}
