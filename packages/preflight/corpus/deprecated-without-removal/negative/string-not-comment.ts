export const doc = '/** @deprecated */';
