// `.get` on receivers that are no Nest ConfigService, even when named `config`, and ConfigService
// reads without a literal fallback.
import { ConfigService } from '@nestjs/config';

const config = new Map<string, string>();
export const cachedToken = config.get('API_TOKEN') || '';

export function bearer(headers: Headers): string {
  return headers.get('x-api-token') ?? '';
}

export class Keys {
  constructor(private readonly configService: ConfigService) {}

  jwtSecret(): string {
    return this.configService.getOrThrow<string>('JWT_SECRET');
  }

  port(): number {
    return this.configService.get('PORT', 3000);
  }
}
