export const webhookSecret = process.env.WEBHOOK_SECRET || `whsec_local_development_only`;
