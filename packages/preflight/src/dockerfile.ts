// Reads the COPY/ADD instructions of a Dockerfile: which context paths end up in the image.

/** One COPY or ADD that reads from the build context (not `--from=` another stage). */
export interface CopyInstruction {
  readonly instruction: 'COPY' | 'ADD';
  readonly sources: readonly string[];
  /** Offset of the instruction in the Dockerfile text. */
  readonly start: number;
  readonly end: number;
}

function splitArgs(rest: string): string[] {
  const trimmed = rest.trim();
  if (trimmed.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
    } catch {
      // Not JSON: Docker falls back to the shell form too.
    }
  }
  return trimmed.split(/\s+/).filter((a) => a.length > 0);
}

/** COPY/ADD instructions that read from the build context. */
export function copyInstructions(text: string): CopyInstruction[] {
  const out: CopyInstruction[] = [];
  const lines = text.split('\n');
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const start = offset;
    let logical = lines[i]!.replace(/\r$/, '');
    offset += lines[i]!.length + 1;
    if (/^\s*#/.test(logical)) continue;
    while (logical.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.replace(/\r$/, '');
      offset += lines[i]!.length + 1;
      if (/^\s*#/.test(next)) continue;
      logical = `${logical.slice(0, -1)} ${next}`;
    }
    const match = /^\s*(COPY|ADD)\s+(.*)$/i.exec(logical);
    if (!match) continue;
    const args = splitArgs(match[2] ?? '');
    const flags = args.filter((a) => a.startsWith('--'));
    if (flags.some((f) => f.startsWith('--from'))) continue;
    const paths = args.filter((a) => !a.startsWith('--') && !a.startsWith('<<'));
    if (paths.length < 2) continue;
    const sources = paths.slice(0, -1).filter((s) => !/^[a-z]+:\/\//i.test(s) && !s.startsWith('git@'));
    out.push({ instruction: (match[1] ?? 'COPY').toUpperCase() as 'COPY' | 'ADD', sources, start, end: offset - 1 });
  }
  return out;
}

function globToRegex(glob: string): RegExp {
  let source = '^';
  for (const c of glob) {
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${source}$`);
}

/** Whether a COPY source (relative to the context) brings `file` into the image. */
export function copySourceIncludes(source: string, file: string): boolean {
  let cleaned = source.replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
  if (cleaned === '' || cleaned === '.') return true;
  cleaned = cleaned.replace(/\/\.$/, '');
  const regex = globToRegex(cleaned);
  const parts = file.split('/');
  for (let i = 1; i <= parts.length; i++) if (regex.test(parts.slice(0, i).join('/'))) return true;
  return false;
}
