/** @deprecated since 1.4: will be removed in 3.0. Use parse(). */
export function oldParse(): void {}
