// TODO: merge adjacent string tokens before the next pass
export function merge(tokens: Array<{ type: string; value: string }>): void {
  tokens.sort((a, b) => a.value.localeCompare(b.value));
}
