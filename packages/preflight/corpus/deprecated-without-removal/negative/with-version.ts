/** @deprecated Use verify(). Removal: v2.0.0 */
export function check(): void {}
