/** @deprecated */
export function legacyLogin(): void {}
