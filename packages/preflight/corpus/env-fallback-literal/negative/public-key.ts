export const publicKey = process.env.STRIPE_PUBLIC_KEY || 'pk_test_placeholder';
