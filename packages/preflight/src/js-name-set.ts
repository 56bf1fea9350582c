// Names that may hold one object (the export object, Node's module) while a module's top-level
// statements run, read in one pass: through blocks that may not run, without copying the set.

/**
 * What a block that may not run (a branch of an `if`, a `try` or `catch` block) changed: the names
 * it took away that held the object when it began, the names it gave the object, and the set the
 * names were in when it first replaced them all.
 */
interface Frame {
  readonly removed: string[];
  added: Set<string>;
  replacedFrom: Set<string> | undefined;
}

/** Adds the smaller set to the larger and returns that one (each name moves O(log n) times over nested merges). */
function union(a: Set<string>, b: Set<string>): Set<string> {
  const [large, small] = a.size >= b.size ? [a, b] : [b, a];
  for (const name of small) large.add(name);
  return large;
}

/**
 * Names that hold the export object (or Node's module), as a statement's links change them: the
 * statement reads what each name held when it started ({@link had}) while its links write. What a
 * name held is kept aside per statement, not copied per statement (a copy of the set per statement
 * would make a module of n aliases cost n² steps). Inside a block that may not run, statements
 * change the names in order; when it ends, a name that held the object before it still may
 * ({@link exit}), and a name it bound may too.
 */
export class NameSet {
  #now: Set<string>;
  #start: Set<string>;
  readonly #held = new Map<string, boolean>();
  readonly #frames: Frame[] = [];
  constructor(names: Iterable<string>) {
    this.#now = new Set(names);
    this.#start = this.#now;
  }
  /** A statement starts: it reads what the names hold now. */
  begin(): void {
    this.#start = this.#now;
    this.#held.clear();
  }
  /** Whether `name` held the object when the statement started. */
  had(name: string): boolean {
    return this.#held.get(name) ?? this.#start.has(name);
  }
  /** Whether `name` holds the object now. */
  has(name: string): boolean {
    return this.#now.has(name);
  }
  set(name: string, on: boolean): void {
    if (this.#now.has(name) === on) return;
    if (this.#now === this.#start && !this.#held.has(name)) this.#held.set(name, this.#start.has(name));
    const frame = this.#frames.at(-1);
    if (on) {
      this.#now.add(name);
      frame?.added.add(name);
    } else {
      this.#now.delete(name);
      if (frame !== undefined && !frame.added.delete(name)) frame.removed.push(name);
    }
  }
  /** Only `names` hold the object now. */
  replace(names: readonly string[]): void {
    const frame = this.#frames.at(-1);
    // The first replacement in a block keeps the set it replaced (no set is copied); later ones
    // drop only names the block itself bound.
    if (frame !== undefined && frame.replacedFrom === undefined) frame.replacedFrom = this.#now;
    this.#now = new Set(names);
    if (frame !== undefined) for (const name of names) frame.added.add(name);
  }
  /** A block that may not run begins. */
  enter(): void {
    this.#frames.push({ removed: [], added: new Set(), replacedFrom: undefined });
  }
  /**
   * The block ends: what held the object before it may still (it may not have run, or stopped
   * part-way), as may what it bound. The smaller of the replaced set and the current one is added
   * to the larger ({@link union}), so that nested and repeated blocks cost n log n steps at most.
   * With `bound`, and when the block replaced the object ({@link replace}), returns the names it
   * bound that hold the new one at its end.
   */
  exit(bound = false): readonly string[] | undefined {
    const frame = this.#frames.pop();
    if (frame === undefined) return undefined;
    const kept =
      bound && frame.replacedFrom !== undefined ? [...frame.added].filter((name) => this.#now.has(name)) : undefined;
    if (frame.replacedFrom !== undefined) this.#now = union(frame.replacedFrom, this.#now);
    for (const name of frame.removed) this.#now.add(name);
    // What the block bound, the enclosing block bound too.
    const outer = this.#frames.at(-1);
    if (outer !== undefined) outer.added = union(outer.added, frame.added);
    return kept;
  }
}
