function env(key: string) {
  return process.env[key];
}

export const apiKey = env('STRIPE_API_KEY') ?? 'sk_test_local';
