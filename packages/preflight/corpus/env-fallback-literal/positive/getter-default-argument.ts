// A getter whose second parameter is the fallback: the literal is passed at the call.
function env(name: string, fallback?: string): string | undefined {
  return process.env[name] ?? fallback;
}

export const apiKey = env('API_KEY', 'local-api-key-123');
export const port = env('PORT', '3000');
