/**
 * Copying and serializing decoded JSON without recursion: `structuredClone` and `JSON.stringify`
 * overflow V8's stack near 5,000 levels, and a request body may nest 10,000 deep, as Go's decoder
 * allows (see request-json.ts).
 */

type Frame = { readonly source: unknown; readonly target: Record<string, unknown> | unknown[]; readonly key: string };

/** A deep copy of a value decoded by `JSON.parse` (plain objects, arrays and primitives). */
export function cloneJson<T>(value: T): T {
  const root: { value?: unknown } = {};
  const stack: Frame[] = [{ source: value, target: root as Record<string, unknown>, key: 'value' }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { source, target, key } = frame;
    let copy: unknown = source;
    if (Array.isArray(source)) {
      const array: unknown[] = new Array(source.length);
      source.forEach((item, index) => {
        stack.push({ source: item, target: array, key: String(index) });
      });
      copy = array;
    } else if (source !== null && typeof source === 'object') {
      const object: Record<string, unknown> = {};
      for (const [name, item] of Object.entries(source)) {
        // defineProperty: a "__proto__" key stays an own data property, as JSON.parse made it.
        Object.defineProperty(object, name, { value: undefined, writable: true, enumerable: true, configurable: true });
        stack.push({ source: item, target: object, key: name });
      }
      copy = object;
    }
    (target as Record<string, unknown>)[key] = copy;
  }
  return root.value as T;
}

/**
 * `JSON.stringify(value)` for response bodies. Uses `JSON.stringify` itself, and a loop of its own
 * only for a value nested too deep for it (plain objects, arrays and primitives, as decoded JSON).
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  const out: string[] = [];
  const tasks: (string | { value: unknown; inArray: boolean })[] = [{ value, inArray: false }];
  for (let task = tasks.pop(); task !== undefined; task = tasks.pop()) {
    if (typeof task === 'string') {
      out.push(task);
      continue;
    }
    const current = task.value;
    if (Array.isArray(current)) {
      const parts: (string | { value: unknown; inArray: boolean })[] = ['['];
      current.forEach((item, index) => {
        if (index > 0) parts.push(',');
        parts.push({ value: item, inArray: true });
      });
      parts.push(']');
      for (let i = parts.length - 1; i >= 0; i--) tasks.push(parts[i] as string);
    } else if (current !== null && typeof current === 'object') {
      const parts: (string | { value: unknown; inArray: boolean })[] = ['{'];
      let first = true;
      for (const [name, item] of Object.entries(current)) {
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
        parts.push(`${first ? '' : ','}${JSON.stringify(name)}:`);
        parts.push({ value: item, inArray: false });
        first = false;
      }
      parts.push('}');
      for (let i = parts.length - 1; i >= 0; i--) tasks.push(parts[i] as string);
    } else {
      // A primitive: JSON.stringify's own spelling (undefined in an array reads null).
      out.push(JSON.stringify(current) ?? 'null');
    }
  }
  return out.join('');
}
