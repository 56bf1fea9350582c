/**
 * Signs a token with the shared key.
 * @deprecated Use signWithKms() instead.
 */
export function sign(): void {}
