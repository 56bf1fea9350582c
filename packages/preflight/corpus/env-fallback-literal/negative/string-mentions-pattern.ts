export const help = "never write process.env.JWT_SECRET || 'dev-secret' in code";
