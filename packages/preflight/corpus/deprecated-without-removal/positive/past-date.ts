/** @deprecated Use v2 endpoints. Removal: 2026-01-31 */
export const v1 = true;
