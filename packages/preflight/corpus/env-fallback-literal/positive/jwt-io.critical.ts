const secret = new TextEncoder().encode(process.env.JWT_SECRET ?? 'your-256-bit-secret');
