export const secret = process.env.JWT_SECRET ?? process.env.LEGACY_JWT_SECRET;
