export const key = process.env.SIGNING_KEY ?? 'supersecretkey123';
