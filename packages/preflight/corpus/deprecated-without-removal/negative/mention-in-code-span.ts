/** Reads the removal target from the text after `@deprecated` (a mention, not a tag). */
export function removalTarget(): void {}
