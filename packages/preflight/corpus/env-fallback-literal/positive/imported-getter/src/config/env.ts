// The project's env helper: hands back the variable its argument names.
export const readEnv = (name: string): string | undefined => process.env[name];
